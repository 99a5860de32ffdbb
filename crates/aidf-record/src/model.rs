//! The record as sections of labelled rows: what both the HTML and the PDF show, in order.

use aidf_service::register::{ComplianceRecord, RecordDraw, RecordScreening};

/// One labelled value; `cite` is a citation shown under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Label.
    pub label: String,
    /// Value, as text (exact integers, names as given).
    pub value: String,
    /// Citation, for reasons and obligations.
    pub cite: Option<String>,
}

/// A titled group of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Title.
    pub title: &'static str,
    /// Rows, in order.
    pub rows: Vec<Row>,
}

pub(crate) fn row(label: impl Into<String>, value: impl Into<String>) -> Row {
    Row {
        label: label.into(),
        value: value.into(),
        cite: None,
    }
}

fn opt(v: Option<&str>) -> String {
    v.unwrap_or("—").to_string()
}

fn shipment(r: &ComplianceRecord) -> Section {
    let s = &r.shipment;
    Section {
        title: "Shipment",
        rows: vec![
            row("Shipment id", s.shipment_id.clone()),
            row("Status", s.status.as_str()),
            row("Authorization", s.authorization.clone()),
            row("Refusal", opt(s.refusal.as_deref())),
            row("Recorded at (UTC)", s.recorded_at_utc.clone()),
            row("Business date", opt(s.business_date.as_deref())),
            row("Backfill", if r.backfill { "yes" } else { "no" }),
            row("Tenant", r.tenant.clone()),
            row("Destination", opt(s.destination.as_deref())),
            row("Consignee", opt(s.consignee.as_deref())),
            row(
                "Total TPP",
                s.total_tpp.map_or("—".into(), |t| t.to_string()),
            ),
            row("License used", opt(s.license_id.as_deref())),
        ],
    }
}

fn determination(r: &ComplianceRecord) -> Section {
    let required = r
        .license_required
        .map_or("—", |b| if b { "yes" } else { "no" });
    let (id, digest) = r
        .regime
        .as_ref()
        .map_or(("—", "—"), |g| (g.id.as_str(), g.digest.as_str()));
    Section {
        title: "Determination",
        rows: vec![
            row("License required", required),
            row("Review policy", opt(r.review_policy.as_deref())),
            row("ECCN", opt(r.eccn.as_deref())),
            row("Regime", id),
            row("Regime digest", digest),
            row("Input digest", r.input_digest.clone()),
        ],
    }
}

fn cited(label: String, value: &str, cite: &str) -> Row {
    Row {
        label,
        value: value.to_string(),
        cite: Some(cite.to_string()),
    }
}

fn explanation(r: &ComplianceRecord) -> Vec<Section> {
    let reasons = r
        .reasons
        .iter()
        .enumerate()
        .map(|(i, x)| cited(format!("{}. {}", i + 1, x.rule), &x.detail, &x.citation))
        .collect();
    let assumptions = r
        .assumptions
        .iter()
        .map(|a| {
            let v = format!("{} [{}] {}", a.value, a.confidence, a.detail);
            row(a.switch.clone(), v)
        })
        .collect();
    let obligations = r
        .obligations
        .iter()
        .map(|o| cited(o.id.clone(), &o.detail, &o.citation))
        .collect();
    let notes = r.notes.iter().map(|n| row("Note", n.clone())).collect();
    vec![
        Section {
            title: "Reasons (in the order the rules decided)",
            rows: reasons,
        },
        Section {
            title: "Assumptions (unconfirmed readings relied on)",
            rows: assumptions,
        },
        Section {
            title: "Obligations",
            rows: obligations,
        },
        Section {
            title: "Notes",
            rows: notes,
        },
    ]
}

fn draw_row(d: &RecordDraw) -> Row {
    let b = &d.balance_after;
    let cap = b.cap.map_or("uncapped".into(), |c| c.to_string());
    let available = b.available.map_or("—".into(), |a| a.to_string());
    let value = format!(
        "{} {} on {} → posted {}, pending {}, cap {cap}, available {available}",
        d.kind, d.amount, d.account, b.posted, b.pending
    );
    row(d.op_id.clone(), value)
}

fn screening(s: Option<&RecordScreening>) -> Section {
    let mut rows = Vec::new();
    match s {
        None => rows.push(row("Screening", "not screened")),
        Some(s) => {
            rows.push(row("Verdict", s.verdict.clone()));
            rows.push(row("Refusal or hold", opt(s.refusal.as_deref())));
            rows.push(row(
                "Held for review",
                if s.hold_for_review { "yes" } else { "no" },
            ));
            for p in &s.parties {
                let v = format!("{} — {} ({} hits reported)", p.name, p.verdict, p.hits);
                rows.push(row(format!("Party: {}", p.role), v));
            }
            for l in &s.list_versions {
                rows.push(row("List version", l.clone()));
            }
        }
    }
    Section {
        title: "Screening",
        rows,
    }
}

fn audit(r: &ComplianceRecord) -> Section {
    let mut rows = match &r.audit {
        None => vec![row("Audit record", "not chained yet (in the outbox)")],
        Some(a) => vec![
            row("Audit sequence", a.seq.to_string()),
            row("Audit hash", a.hash.clone()),
            row(
                "Signed (HMAC)",
                if a.signed { "yes" } else { "no (legacy)" },
            ),
            row("Actor", a.actor.clone()),
            row("Outcome", a.outcome.clone()),
        ],
    };
    rows.push(row("Verify with", r.verify_hint.clone()));
    Section {
        title: "Audit",
        rows,
    }
}

/// The record's sections, in the order both renderings show them.
pub fn sections(r: &ComplianceRecord) -> Vec<Section> {
    let mut out = vec![shipment(r), determination(r)];
    out.extend(explanation(r));
    let draws = r.draws.iter().map(draw_row).collect::<Vec<_>>();
    out.push(Section {
        title: "Ledger draws (balances after)",
        rows: if draws.is_empty() {
            vec![row("Draws", "none (nothing was drawn)")]
        } else {
            draws
        },
    });
    out.push(screening(r.screening.as_ref()));
    out.push(audit(r));
    let input = serde_json::to_string_pretty(&r.input).unwrap_or_default();
    out.push(Section {
        title: "Input as given",
        rows: vec![row("JSON", input)],
    });
    out
}
