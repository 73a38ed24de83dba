//! Connecting to NATS.

use std::time::Duration;

use kokeilu_platform::config::Secret;

/// Who connects to NATS, and where.
#[derive(Debug, Clone, Default)]
pub struct Login {
    /// One or more server URLs, comma separated.
    pub urls: String,
    /// User and password; `None` for a server without authentication.
    pub user: Option<(String, Secret)>,
    /// CA certificate (PEM) to verify the servers with; TLS is then required.
    pub ca: Option<std::path::PathBuf>,
}

impl Login {
    pub fn anonymous(urls: &str) -> Self {
        Self {
            urls: urls.to_owned(),
            user: None,
            ca: None,
        }
    }

    /// The server URLs, trimmed, without empty entries.
    pub fn servers(&self) -> Vec<String> {
        self.urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Replies (JetStream API answers, publish acks, fetched messages) go to an inbox of this
    /// user's own, `_INBOX_<user>`, so the server can keep users out of each other's inboxes.
    pub fn inbox_prefix(&self) -> String {
        match &self.user {
            Some((user, _)) => format!("_INBOX_{user}"),
            None => "_INBOX".to_owned(),
        }
    }

    fn options(&self, name: &str) -> async_nats::ConnectOptions {
        let options = match &self.user {
            Some((user, password)) => async_nats::ConnectOptions::with_user_and_password(
                user.clone(),
                password.expose().to_owned(),
            ),
            None => async_nats::ConnectOptions::new(),
        };
        let options = match &self.ca {
            Some(ca) => options.add_root_certificates(ca.clone()).require_tls(true),
            None => options,
        };
        options
            .name(name)
            .custom_inbox_prefix(self.inbox_prefix())
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
    }
}

/// Connects to any of `login`'s servers, retrying for up to `patience` while none is reachable
/// yet (services may start before NATS in a local run). Afterwards the client reconnects forever.
pub async fn connect(
    login: &Login,
    name: &str,
    patience: Duration,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let servers = login.servers();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match login.options(name).connect(servers.as_slice()).await {
            Ok(client) => return Ok(client),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, urls = %login.urls, "NATS not reachable yet, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A JetStream context with a bounded number of publish acks in flight.
pub fn jetstream(client: async_nats::Client) -> async_nats::jetstream::Context {
    async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .max_ack_inflight(4096)
        .build(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_separated_url_is_a_server_list() {
        let login = Login::anonymous(" nats://a:4222, nats://b:4222,,nats://c:4222 ");
        assert_eq!(
            login.servers(),
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
    }

    #[test]
    fn each_user_has_its_own_inbox() {
        assert_eq!(Login::anonymous("x").inbox_prefix(), "_INBOX");
        let kainuu = Login {
            urls: "x".into(),
            user: Some(("area-kainuu".into(), Secret::new("pw"))),
            ca: None,
        };
        assert_eq!(kainuu.inbox_prefix(), "_INBOX_area-kainuu");
    }
}
