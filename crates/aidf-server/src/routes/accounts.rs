//! Accounts: balances now or as of a date, and an account's history, as the tenant may see them.

use aidf_ledger::{LedgerError, Timestamp};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::S;
use super::extract::{P, Q, end_of};
use super::ledger_error;
use crate::auth::Principal;
use crate::problem::ApiError;

/// One account's balance, now or as of a date (`GET /v1/accounts/{key}`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AccountView {
    key: String,
    /// The business date asked for, if any.
    as_of: Option<String>,
    /// The recording date asked for, if any.
    recorded_as_of: Option<String>,
    balance: aidf_ledger::Balance,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct AsOf {
    /// Balance at the end of this business date (YYYY-MM-DD): shipments dated on or before it,
    /// whenever recorded, and other entries recorded by then.
    as_of: Option<String>,
    /// Balance as recorded by the end of this date (YYYY-MM-DD): the recording clock.
    recorded_as_of: Option<String>,
}

impl AsOf {
    /// The balance of `key` on the clock the query names (now when it names none).
    fn balance(
        &self,
        store: &mut dyn aidf_ledger::LedgerStore,
        key: &str,
    ) -> Result<aidf_ledger::Balance, LedgerError> {
        match (&self.as_of, &self.recorded_as_of) {
            (Some(d), _) => store.balance_on(key, d),
            (None, Some(d)) => store.balance(
                key,
                Some(end_of("recorded_as_of", d).unwrap_or(Timestamp(0))),
            ),
            (None, None) => store.balance(key, None),
        }
    }

    /// Checks the dates before any read.
    fn check(&self) -> Result<(), ApiError> {
        if self.as_of.is_some() && self.recorded_as_of.is_some() {
            return Err(ApiError::bad_request(
                Some("as_of".into()),
                "give `as_of` (business date) or `recorded_as_of`, not both",
            ));
        }
        for (field, v) in [
            ("as_of", &self.as_of),
            ("recorded_as_of", &self.recorded_as_of),
        ] {
            if let Some(s) = v {
                end_of(field, s)?;
            }
        }
        Ok(())
    }
}

/// Whether the tenant may see an account: country allocations are global; consignee accounts
/// carry their tenant in the key; license accounts their license's id.
fn visible(who: &Principal, key: &str) -> Result<(), ApiError> {
    let tenant = &who.tenant;
    let own = key.starts_with("country:")
        || key.starts_with("country-beyond:")
        || aidf_core::AccountRef::scope_prefixes(tenant)
            .iter()
            .any(|p| key.starts_with(p.as_str()))
        || key.starts_with(&format!("license:{tenant}."));
    if own {
        Ok(())
    } else {
        Err(ApiError::not_found("key", format!("no account `{key}`")))
    }
}

/// Accounts visible to the tenant (country allocations are global).
#[utoipa::path(get, path = "/v1/accounts", tag = "ledger", params(AsOf), responses((status = 200, body = [aidf_ledger::Account])), security(("bearer" = [])))]
pub(super) async fn accounts(
    State(state): S,
    who: Principal,
    Q(q): Q<AsOf>,
) -> Result<Json<Value>, ApiError> {
    q.check()?;
    let tenant = who.clone();
    let out = state
        .with_ledger(move |l| {
            let store = l.store();
            let mut out = Vec::new();
            for mut a in store.accounts().map_err(ledger_error)? {
                if visible(&tenant, &a.key).is_err() {
                    continue;
                }
                if q.as_of.is_some() || q.recorded_as_of.is_some() {
                    let b = q.balance(store, &a.key).map_err(ledger_error)?;
                    (a.cap, a.posted, a.pending) = (b.cap, b.posted, b.pending);
                }
                out.push(serde_json::to_value(&a).unwrap_or_default());
            }
            Ok(out)
        })
        .await?;
    Ok(Json(Value::Array(out)))
}

/// One account's balance, now or as of a date.
#[utoipa::path(get, path = "/v1/accounts/{key}", tag = "ledger", params(("key" = String, Path, description = "Account key"), AsOf),
    responses((status = 200, body = AccountView)), security(("bearer" = [])))]
pub(super) async fn account(
    State(state): S,
    who: Principal,
    P(key): P<String>,
    Q(q): Q<AsOf>,
) -> Result<Json<AccountView>, ApiError> {
    visible(&who, &key)?;
    q.check()?;
    let k = key.clone();
    let (as_of, recorded_as_of) = (q.as_of.clone(), q.recorded_as_of.clone());
    let bal = state
        .with_ledger(move |l| match q.balance(l.store(), &k) {
            Err(LedgerError::UnknownAccount { .. }) => {
                Err(ApiError::not_found("key", format!("no account `{k}`")))
            }
            other => other.map_err(ledger_error),
        })
        .await?;
    Ok(Json(AccountView {
        key,
        as_of,
        recorded_as_of,
        balance: bal,
    }))
}

/// One account's history; other tenants' shipment ids are redacted.
#[utoipa::path(get, path = "/v1/accounts/{key}/history", tag = "ledger", params(("key" = String, Path, description = "Account key")),
    responses((status = 200, body = [aidf_ledger::Entry])), security(("bearer" = [])))]
pub(super) async fn history(
    State(state): S,
    who: Principal,
    P(key): P<String>,
) -> Result<Json<Value>, ApiError> {
    visible(&who, &key)?;
    let k = key.clone();
    let entries = state
        .with_ledger(move |l| match l.store().history(&k) {
            Err(LedgerError::UnknownAccount { .. }) => {
                Err(ApiError::not_found("key", format!("no account `{k}`")))
            }
            other => other.map_err(ledger_error),
        })
        .await?;
    let prefix = format!("{}.", who.tenant);
    let out: Vec<Value> = entries
        .into_iter()
        .map(|mut e| {
            let mine = e
                .meta
                .determination_id
                .as_deref()
                .is_none_or(|d| d.starts_with(&prefix));
            if !mine {
                e.meta.determination_id = Some("redacted".into());
                e.meta.memo = None;
                e.op_id = Some("redacted".into());
            }
            serde_json::to_value(&e).unwrap_or_default()
        })
        .collect();
    Ok(Json(Value::Array(out)))
}
