//! A supervised task: a named piece of work that runs until its cancellation token fires.

use std::future::Future;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

type Body = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// Work the runtime supervises: it must run until its token is cancelled, then finish what it
/// has in hand and return. Returning earlier, or with an error, shuts the process down.
pub struct Task {
    name: String,
    body: Body,
}

impl Task {
    /// A task named `name` (for logs) running `body` with the runtime's cancellation token.
    pub fn new<F, Fut>(name: impl Into<String>, body: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name: name.into(),
            body: Box::new(move |cancel| Box::pin(body(cancel))),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn start(
        self,
        cancel: CancellationToken,
    ) -> (String, BoxFuture<'static, anyhow::Result<()>>) {
        (self.name, (self.body)(cancel))
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}
