//! Issue 16: licenses and VEUs are checked once, in the service, for the CLI and the server:
//! every refusal names the field (`items[1]`, `sites[0].country`), the value as given and what
//! was expected. One table per record; then a good one recorded and read back on a ledger.

mod common;

use aidf_core::Policy;
use aidf_ledger::{Timestamp, VeuKind};
use aidf_service::records::{
    LicenseDraft, RecordError, RecordField, SiteDraft, VeuDraft, add_license, add_veu,
    license_record, veu_record,
};

fn policy() -> Policy {
    Policy::embedded().expect("policy")
}

fn good_license() -> LicenseDraft {
    LicenseDraft {
        id: "L-1".into(),
        consignee: "X Sdn Bhd".into(),
        destination: "MY".into(),
        items: vec!["H100 SXM".into()],
        units: 10,
        tpp: 1_000_000,
        granted: "2025-01-01".into(),
        expires: "2026-01-01".into(),
        beyond_allocation: false,
    }
}

fn site(id: &str, country: &str) -> SiteDraft {
    SiteDraft {
        id: id.into(),
        country: country.into(),
    }
}

fn good_veu() -> VeuDraft {
    VeuDraft {
        id: "V-1".into(),
        kind: "uveu".into(),
        owner: "Acme Cloud".into(),
        hq: "US".into(),
        sites: vec![site("dc1", "IN")],
    }
}

/// The refusal's field path and message (the message must be whole; `…` ends a prefix).
fn check(err: RecordError, field: &str, message: &str) {
    assert_eq!(err.field().map(|f| f.to_string()).as_deref(), Some(field));
    let text = err.to_string();
    match message.strip_suffix('…') {
        Some(start) => assert!(text.starts_with(start), "{text}"),
        None => assert_eq!(text, message),
    }
    assert_eq!(
        err.detail(),
        text.strip_prefix(&format!("field `{field}`: "))
            .expect("prefixed")
    );
}

#[test]
fn licenses_are_refused_naming_the_field_the_value_and_what_was_expected() {
    type Change = fn(&mut LicenseDraft);
    let table: &[(Change, &str, &str)] = &[
        (
            |d| d.id = "bad id".into(),
            "id",
            "field `id`: `bad id` must be 1-64 characters of [A-Za-z0-9_:-]",
        ),
        (
            |d| d.id = String::new(),
            "id",
            "field `id`: `` must be 1-64 characters of [A-Za-z0-9_:-]",
        ),
        (
            |d| d.id = "L\u{7}1".into(),
            "id",
            "field `id`: `L\\u{7}1` must be 1-64 characters of [A-Za-z0-9_:-]",
        ),
        (|d| d.id = "L".repeat(65), "id", "field `id`: …"),
        (
            |d| d.id = "acme.L-1".into(),
            "id",
            "field `id`: `acme.L-1` must be…",
        ),
        (
            |d| d.consignee = " ".into(),
            "consignee",
            "field `consignee`: ` ` is not 1-512 bytes of text without control characters",
        ),
        (
            |d| d.consignee = "X\nY".into(),
            "consignee",
            "field `consignee`: `X\\nY` is not 1-512 bytes of text without control characters",
        ),
        (
            |d| d.consignee = "x".repeat(513),
            "consignee",
            "field `consignee`: …",
        ),
        (
            |d| d.destination = "ZZ".into(),
            "destination",
            "field `destination`: unknown country code `ZZ`",
        ),
        (
            |d| d.items.push("no such chip".into()),
            "items[1]",
            "field `items[1]`: unknown chip `no such chip`…",
        ),
        (
            |d| d.units = 0,
            "units",
            "field `units`: `0` is not a cap of 1 or more; a license authorizes at least one unit and some TPP",
        ),
        (
            |d| d.tpp = 0,
            "tpp",
            "field `tpp`: `0` is not a cap of 1 or more; a license authorizes at least one unit and some TPP",
        ),
        (
            |d| d.tpp = u64::MAX,
            "tpp",
            "field `tpp`: `18446744073709551615` is above the largest cap the ledger holds (9223372036854775807)",
        ),
        (
            |d| d.granted = "2025-13-01".into(),
            "granted",
            "field `granted`: `2025-13-01` is not a date (YYYY-MM-DD)",
        ),
        (
            |d| d.granted = "2025-1-1".into(),
            "granted",
            "field `granted`: `2025-1-1` is not a date (YYYY-MM-DD)",
        ),
        (
            |d| d.granted = "1899-12-31".into(),
            "granted",
            "field `granted`: `1899-12-31` is outside the years 1900-9999 the ledger holds",
        ),
        (
            |d| d.expires = "2026-02-29".into(),
            "expires",
            "field `expires`: `2026-02-29` is not a date (YYYY-MM-DD)",
        ),
        (
            |d| d.expires = "2024-12-31".into(),
            "expires",
            "field `expires`: `2024-12-31` is before the grant date `2025-01-01`",
        ),
    ];
    let policy = policy();
    for (change, field, message) in table {
        let mut d = good_license();
        change(&mut d);
        let err = license_record(&policy, "", &d).expect_err(message);
        check(err, field, message);
    }
}

#[test]
fn veus_are_refused_naming_the_field_the_value_and_what_was_expected() {
    type Change = fn(&mut VeuDraft);
    let table: &[(Change, &str, &str)] = &[
        (
            |d| d.id = "V 1".into(),
            "id",
            "field `id`: `V 1` must be 1-64 characters of [A-Za-z0-9_:-]",
        ),
        (
            |d| d.kind = "xveu".into(),
            "kind",
            "field `kind`: `xveu` is not `uveu` or `nveu`",
        ),
        (
            |d| d.owner = String::new(),
            "owner",
            "field `owner`: `` is not 1-512 bytes of text without control characters",
        ),
        (
            |d| d.hq = "ZZ".into(),
            "hq",
            "field `hq`: unknown country code `ZZ`",
        ),
        (
            |d| d.sites.push(site("dc 2", "IN")),
            "sites[1].id",
            "field `sites[1].id`: `dc 2` must be 1-64 characters of [A-Za-z0-9_:-]",
        ),
        (
            |d| d.sites.push(site("dc2", "ZZ")),
            "sites[1].country",
            "field `sites[1].country`: unknown country code `ZZ`",
        ),
        (
            |d| d.sites.push(site("dc1", "MY")),
            "sites[1].id",
            "field `sites[1].id`: `dc1` is the id of sites[0] too; site ids are unique",
        ),
    ];
    let policy = policy();
    for (change, field, message) in table {
        let mut d = good_veu();
        change(&mut d);
        let err = veu_record(&policy, "", &d).expect_err(message);
        check(err, field, message);
    }
}

#[test]
fn sites_are_written_id_colon_country() {
    let err = SiteDraft::parse(2, "dc1-IN").expect_err("no colon");
    check(
        err,
        "sites[2]",
        "field `sites[2]`: `dc1-IN` is not ID:COUNTRY",
    );
    assert_eq!(
        SiteDraft::parse(0, "dc1:IN").expect("site"),
        site("dc1", "IN")
    );
    assert_eq!(RecordField::SiteCountry(3).to_string(), "sites[3].country");
}

#[test]
fn good_records_are_stored_under_the_prefix_with_codes_and_catalog_ids() {
    let policy = policy();
    let (_guard, mut ledger) = common::ledger(false).expect("sqlite");
    let store = ledger.store();
    let now = Timestamp(0);
    let mut d = good_license();
    d.destination = "my".into();
    d.items = vec!["h100 sxm".into()];
    let l = add_license(store, &policy, "acme.", &d, now).expect("license");
    assert_eq!(l.id, "acme.L-1");
    assert_eq!(l.destination_country, "MY");
    assert_eq!(l.allowed_item_ids, ["nvidia-h100-sxm"]);
    let stored = store.license("acme.L-1").expect("read").expect("stored");
    assert_eq!(stored.tpp_cap, 1_000_000);
    let mut v = good_veu();
    v.kind = "NVEU".into();
    let v = add_veu(store, &policy, "", &v, now).expect("veu");
    assert_eq!((v.id.as_str(), v.kind), ("V-1", VeuKind::Nveu));
    assert_eq!(
        store.veu("V-1").expect("read").expect("stored").sites.len(),
        1
    );
}
