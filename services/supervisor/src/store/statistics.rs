//! The open statistics as published: one stored snapshot per closed month.

use chrono::{DateTime, Utc};
use kokeilu_bus::stored::micros;

use super::Store;

#[derive(sqlx::FromRow)]
struct MonthRow {
    month: String,
}

#[derive(sqlx::FromRow)]
struct PublishedRow {
    month: String,
    body: String,
}

impl Store {
    /// The months (`YYYY-MM`) that have referrals.
    pub async fn case_months(&self) -> Result<Vec<String>, sqlx::Error> {
        Ok(sqlx::query_as::<_, MonthRow>(
            "SELECT DISTINCT SUBSTR(referral_date, 1, 7) AS month FROM cases ORDER BY month",
        )
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| r.month)
        .collect())
    }

    /// Every published month, oldest first: `(month, body)`.
    pub async fn published_statistics(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        Ok(sqlx::query_as::<_, PublishedRow>(
            "SELECT month, body FROM published_statistics ORDER BY month",
        )
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| (r.month, r.body))
        .collect())
    }

    /// Stores a month's figures unless the month is already published (by another replica, or
    /// an earlier request): `false` then, and the stored figures stand.
    pub async fn publish_statistics(
        &self,
        month: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO published_statistics (month, published_at, body) VALUES ($1, $2, $3) \
             ON CONFLICT (month) DO NOTHING",
        )
        .bind(month)
        .bind(micros(at))
        .bind(body)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
