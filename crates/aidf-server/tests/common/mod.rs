//! Shared by the server's in-process HTTP tests: a scratch ledger and tokens.

#![allow(dead_code)]

use aidf_ledger::Timestamp;
use aidf_server::{new_token, token_hash};

/// A scratch folder removed when dropped.
pub struct Scratch(pub std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new scratch folder `aidf-<prefix>-<tag>-<pid>-<ms>` and the SQLite ledger path in it.
pub fn scratch(prefix: &str, tag: &str) -> (Scratch, String) {
    let dir = std::env::temp_dir().join(format!(
        "aidf-{prefix}-{tag}-{}-{}",
        std::process::id(),
        Timestamp::now_utc().0
    ));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("aidf.db").to_str().expect("utf8").to_string();
    (Scratch(dir), db)
}

/// The audit key of the ledger at `db` (created next to it).
pub fn auditor(db: &str) -> aidf_ledger::audit::Auditor {
    aidf_ledger::audit::Auditor::open(db, None)
        .expect("audit key")
        .0
}

/// A bearer token for `tenant` with `role`, recorded in the server's store of `db`.
pub fn token(db: &str, tenant: &str, role: &str) -> String {
    let store = aidf_server::store::Db::open(db).expect("db");
    store.ensure_tenant(tenant, tenant, 0).expect("tenant");
    let (id, token) = new_token().expect("token");
    let info = aidf_server::store::TokenInfo {
        id,
        tenant: tenant.to_string(),
        role: role.to_string(),
        created_at: 0,
        revoked_at: None,
    };
    let by = aidf_ledger::audit::AuditContext {
        tenant: tenant.to_string(),
        actor: "test".to_string(),
    };
    store
        .add_token(&info, &token_hash(&token), &by)
        .expect("add token");
    token
}
