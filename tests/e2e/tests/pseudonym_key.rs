//! The pseudonym key stays at te-office (DESIGN.md §5, data minimisation). te-office computes each
//! client's pseudonym and sends it with the referral; the area stores it and names the client by it
//! in every fact, so AVI links the facts of one client, and the area never holds the key. After a
//! referral flow, a scan of every text and blob column of every trial-area table finds the key in
//! no encoding, and neither the trial area's nor the supervisor's flags offer a pseudonym key.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use clap::CommandFactory;
use kokeilu_bus::{Backend, Db};
use kokeilu_platform::privacy::Pseudonymizer;
use kokeilu_proto::date_from_naive;
use kokeilu_proto::teoffice as te;
use kokeilu_proto::trialarea as ta;
use kokeilu_test_support::{TestBackend, on_both_backends, wait_for};
use sqlx::Row;
use support::*;

on_both_backends!(no_trial_area_table_holds_the_pseudonym_key);

const WAIT: Duration = Duration::from_secs(30);

/// Standard base64, with and without padding, and its URL-safe alphabet.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let unpadded = out.trim_end_matches('=').to_owned();
    let url = unpadded.replace('+', "-").replace('/', "_");
    vec![out, unpadded, url]
}

/// Every table of a service's database.
async fn tables(db: &Db) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>("t").unwrap())
        .collect()
}

/// The text and blob columns of `table`.
async fn text_columns(db: &Db, table: &str) -> Vec<String> {
    let rows = match db.backend() {
        Backend::Sqlite => {
            sqlx::query("SELECT name, type FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(db.pool())
                .await
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT) AS name, CAST(data_type AS TEXT) AS type \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table)
            .fetch_all(db.pool())
            .await
        }
    }
    .unwrap();
    rows.iter()
        .filter_map(|r| {
            let name: String = r.try_get("name").unwrap();
            let kind = r.try_get::<String, _>("type").unwrap().to_lowercase();
            let textual = kind.is_empty()
                || ["text", "char", "blob", "bytea", "json"]
                    .iter()
                    .any(|t| kind.contains(t));
            textual.then_some(name)
        })
        .collect()
}

/// Every text and blob value of every table, as bytes, with where it was found.
async fn every_value(db: &Db) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for table in tables(db).await {
        for column in text_columns(db, &table).await {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {column} AS v FROM {table}"
            )))
            .fetch_all(db.pool())
            .await
            .unwrap();
            let at = format!("{table}.{column}");
            for row in rows {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>("v") {
                    out.push((at.clone(), text.into_bytes()));
                } else if let Ok(Some(blob)) = row.try_get::<Option<Vec<u8>>, _>("v") {
                    out.push((at.clone(), blob));
                }
            }
        }
    }
    out
}

async fn no_trial_area_table_holds_the_pseudonym_key(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    // A referral, acknowledged, with an interview: the area stores the referral and reports facts.
    let mut te = sys.te().await;
    let id = te
        .submit_referral(referral(1, "205"))
        .await
        .unwrap()
        .into_inner()
        .referral_id;
    wait_status(&mut te, &id, te::ReferralStatus::Delivered).await;
    let mut kainuu = sys.area("kainuu").await;
    kainuu
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    kainuu
        .record_service_event(ta::RecordServiceEventRequest {
            area_id: "kainuu".into(),
            referral_id: id.clone(),
            kind: ta::ServiceEventKind::InitialInterview as i32,
            date: Some(date_from_naive(test_start().date_naive())),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    wait_status(&mut te, &id, te::ReferralStatus::Acknowledged).await;
    // AVI applied the TE office's fact and the area's three (receipt, acknowledgement,
    // interview), all under te-office's pseudonym.
    wait_for("AVI to take in four facts", WAIT, || async {
        (count(&sys.supervisor.db, "inbox").await == 4).then_some(())
    })
    .await;
    let expected = Pseudonymizer::new(&sys.pseudonym_key).pseudonym(person(1).expose());
    let stored: String = sqlx::query("SELECT client_pseudonym FROM cases")
        .fetch_one(sys.supervisor.db.pool())
        .await
        .unwrap()
        .try_get("client_pseudonym")
        .unwrap();
    assert_eq!(stored, expected);
    let area = &sys.areas["kainuu"].db;
    let row = sqlx::query(
        "SELECT client_pseudonym, pseudonym_key_id FROM incoming_referrals \
         WHERE referral_id = $1",
    )
    .bind(&id)
    .fetch_one(area.pool())
    .await
    .unwrap();
    assert_eq!(
        row.try_get::<String, _>("client_pseudonym").unwrap(),
        expected
    );
    assert_eq!(
        row.try_get::<String, _>("pseudonym_key_id").unwrap(),
        sys.pseudonym_key.id()
    );

    // The key, in every encoding it could be stored in, is nowhere in the area's database.
    let key = sys.pseudonym_key.expose_bytes();
    let mut needles: Vec<Vec<u8>> = vec![
        key.to_vec(),
        hex::encode(key).into_bytes(),
        hex::encode_upper(key).into_bytes(),
    ];
    needles.extend(base64_forms(key).into_iter().map(String::into_bytes));
    let values = every_value(area).await;
    assert!(
        values
            .iter()
            .any(|(at, _)| at == "incoming_referrals.henkilotunnus"),
        "the scan reads the area's text columns"
    );
    for (at, value) in &values {
        for needle in &needles {
            assert!(
                !value.windows(needle.len()).any(|w| w == needle.as_slice()),
                "the pseudonym key is in {at}"
            );
        }
    }

    // Neither the area nor AVI can be given a key.
    for help in [
        trial_area::config::Settings::command()
            .render_long_help()
            .to_string(),
        supervisor::config::Settings::command()
            .render_long_help()
            .to_string(),
    ] {
        assert!(
            !help.contains("--pseudonym") && !help.contains("PSEUDONYM"),
            "{help}"
        );
    }
    let te_help = te_office::config::Settings::command()
        .render_long_help()
        .to_string();
    assert!(te_help.contains("--pseudonym-key-file"));
    assert!(te_help.contains("KOKEILU_PSEUDONYM_KEY_ID"));
    sys.stop().await;
}

#[test]
fn base64_forms_are_right() {
    assert_eq!(
        base64_forms(b"\xfb\xffab"),
        vec!["+/9hYg==", "+/9hYg", "-_9hYg"]
    );
}
