//! Rebuild the tests when a test migration changes: `sqlx::migrate!` embeds them.
fn main() {
    println!("cargo:rerun-if-changed=tests/migrations");
}
