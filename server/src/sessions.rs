//! The session store behind tower-sessions: session records kept in Berth's database, so sessions
//! survive restarts and are shared by replicas. Rows are keyed by a hash of the session id, so a copy
//! of the database does not hand out live sessions.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::store::Store;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::SessionStore;

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        DbSessionStore { store }
    }
}

fn backend(e: domain::Error) -> Error {
    Error::Backend(e.to_string())
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

fn encode(record: &Record) -> Result<String> {
    serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let data = encode(record)?;
        let meta = app::api::ssr::session_meta(&record.data);
        // A collision of 128-bit random ids is improbable; pick another id if it happens.
        loop {
            let key = domain::session::session_key(&record.id.to_string());
            if self.store.session_create(&key, &meta, &data, expiry_ms(record)).await.map_err(backend)? {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let key = domain::session::session_key(&record.id.to_string());
        let meta = app::api::ssr::session_meta(&record.data);
        self.store.session_save(&key, &meta, &encode(record)?, expiry_ms(record)).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let key = domain::session::session_key(&id.to_string());
        let now = domain::clock::now_ms();
        let Some((data, expires_at)) = self.store.session_load(&key, now).await.map_err(backend)? else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp_nanos(expires_at as i128 * 1_000_000)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let key = domain::session::session_key(&id.to_string());
        self.store.session_delete(&key).await.map_err(backend)
    }
}
