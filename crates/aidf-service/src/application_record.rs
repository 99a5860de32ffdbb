//! The compliance record of a license application (issue 15, item 6): what was filed, what the
//! rule says of each item (reasons with citations, regime and digest, unconfirmed readings), the
//! allocation and the hold, every dated transition with its actor and its chained audit record,
//! the license it became, and how to verify the chain. Rendered by `aidf-record` like a
//! shipment's record.

use aidf_ledger::LedgerStore;
use serde::Serialize;

use crate::application::{Actor, Application, ApplicationError, Transition, show};
use crate::register::RecordAudit;

/// One transition with the audit record that chained it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecordedTransition {
    /// The transition.
    #[serde(flatten)]
    pub transition: Transition,
    /// Its chained audit record (`application.<state>` on the application; the first such one
    /// where the application entered a state twice); none while it waits in the outbox.
    pub audit: Option<RecordAudit>,
}

/// An application's compliance record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApplicationRecord {
    /// The application: as filed, each item's determination, the allocation and hold, state.
    pub application: Application,
    /// Every transition, oldest first, with its audit record.
    pub transitions: Vec<RecordedTransition>,
    /// How to check the audit chain this record is part of.
    pub verify_hint: String,
}

/// The compliance record of one of the tenant's applications. `verify_with` is the `--db` (or
/// the server's name for it) put in the verification hint.
pub fn application_record(
    store: &mut dyn LedgerStore,
    who: &Actor<'_>,
    id: &str,
    verify_with: &str,
) -> Result<ApplicationRecord, ApplicationError> {
    let view = show(store, who, id)?;
    let subject = format!("{}{}", who.record_prefix, view.application.id);
    let mut transitions = Vec::with_capacity(view.transitions.len());
    for t in view.transitions {
        let action = format!("application.{}", t.to);
        let audit = store
            .audit_record_of(&action, &subject)?
            .map(RecordAudit::from);
        transitions.push(RecordedTransition {
            transition: t,
            audit,
        });
    }
    Ok(ApplicationRecord {
        application: view.application,
        transitions,
        verify_hint: format!("aidf audit verify --db {verify_with}"),
    })
}
