//! The accounts a determination reads before it is made ([`balance_reads`]) and draws on once
//! it is made ([`draws`]), in the vocabulary of [`crate::draws`] ([`AccountRef`], [`Draw`]).

use std::sync::Arc;

use chrono::Datelike;

use super::{Authorization, Counter, DetermineError};
use crate::country::CountryCode;
use crate::draws::{AccountRef, Draw, allocation_account};
use crate::input::{Context, DeterminationInput};
use crate::party::PartyId;
use crate::policy::Policy;
use crate::regime::Regime;

/// The balances a determination of `input` reads, each at most once: the consignee's LPP year,
/// the destination's allocation, the claimed NVEU's installed base and the consignee's AIA total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceReads {
    /// LPP year of the consignee (regimes with LPP).
    pub lpp: Option<AccountRef>,
    /// The destination's allocation (regimes with allocations).
    pub allocation: Option<AccountRef>,
    /// The claimed NVEU's installed base in the destination.
    pub nveu: Option<AccountRef>,
    /// The consignee's AIA total.
    pub aia: AccountRef,
}

impl BalanceReads {
    /// Every account to read.
    pub fn accounts(&self) -> Vec<&AccountRef> {
        [
            self.lpp.as_ref(),
            self.allocation.as_ref(),
            self.nveu.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain(std::iter::once(&self.aia))
        .collect()
    }

    /// Fills the context's balances from `read` (posted, pending of each account; absent
    /// accounts read as zero). Capped allowances count pending holds; installed bases and
    /// cumulative totals count what was posted.
    pub fn fill(&self, ctx: &mut Context, read: impl Fn(&AccountRef) -> (u64, u64)) {
        let used = |a: &Option<AccountRef>| {
            a.as_ref().map_or(0, |a| {
                let (posted, pending) = read(a);
                if a.reads_posted_only() {
                    posted
                } else {
                    posted.saturating_add(pending)
                }
            })
        };
        ctx.consignee_ytd_tpp = used(&self.lpp);
        ctx.country_allocation_used_tpp = used(&self.allocation);
        ctx.nveu_installed_tpp = used(&self.nveu);
        ctx.consignee_aia_cumulative_tpp = read(&self.aia).0;
    }
}

/// The consignee's party id: its name and its headquarters after aliases.
fn consignee_party(policy: &Policy, input: &DeterminationInput) -> Result<PartyId, DetermineError> {
    let hq = super::select::canonical_country(policy, "consignee.hq", &input.consignee.hq)?;
    Ok(PartyId::of(&input.consignee.name, hq.as_str()))
}

/// The balances a determination of `input` needs (see [`BalanceReads`]).
pub fn balance_reads(
    policy: &Policy,
    input: &DeterminationInput,
) -> Result<BalanceReads, DetermineError> {
    let regime = super::select::answering_regime(policy, input)?;
    let dest = super::select::canonical_country(policy, "destination", &input.destination)?;
    let party = consignee_party(policy, input)?;
    Ok(BalanceReads {
        lpp: regime.spec.lpp.as_ref().map(|_| AccountRef::LppAnnual {
            party: party.clone(),
            year: input.date.year(),
        }),
        allocation: allocation_account(regime, dest),
        nveu: input
            .consignee
            .veu
            .as_ref()
            .map(|v| AccountRef::NveuInstalledBase {
                veu: Arc::from(v.id.as_str()),
                country: dest,
            }),
        aia: AccountRef::AiaCumulative { party },
    })
}

/// What [`draws`] needs to know of a finished determination.
pub(super) struct Drawn<'a> {
    pub regime: &'a Regime,
    pub input: &'a DeterminationInput,
    /// The consignee's headquarters after aliases (its party id is derived only when a draw
    /// needs it: normalizing and hashing the name is most of a cheap determination's cost).
    pub hq: CountryCode,
    pub destination: CountryCode,
    pub authorization: Authorization,
    pub counts: &'a [Counter],
    pub total_tpp: u64,
}

/// The draws of a determination: one per cap it counts against, and the AIA total.
pub(super) fn draws(d: &Drawn<'_>) -> Vec<Draw> {
    let spec = &d.regime.spec;
    let date = d.input.date;
    let party = || PartyId::of(&d.input.consignee.name, d.hq.as_str());
    let mut out = Vec::with_capacity(d.counts.len() + 1);
    for counter in d.counts {
        let drawn = match counter {
            Counter::LppAnnual => spec.lpp.as_ref().map(|lpp| Draw {
                account: AccountRef::LppAnnual {
                    party: party(),
                    year: date.year(),
                },
                amount_tpp: d.total_tpp,
                cap_tpp: Some(lpp.tpp_per_consignee_year),
            }),
            Counter::CountryAllocation => spec.allocation.as_ref().and_then(|a| {
                let multiplier = if d.input.context.gov_to_gov_agreement {
                    a.g2g_multiplier
                } else {
                    1
                };
                Some(Draw {
                    account: allocation_account(d.regime, d.destination)?,
                    amount_tpp: d.total_tpp,
                    cap_tpp: Some(a.cap_for(d.destination.as_str()).saturating_mul(multiplier)),
                })
            }),
            Counter::NveuAllocation => d.input.consignee.veu.as_ref().map(|v| Draw {
                account: AccountRef::NveuInstalledBase {
                    veu: Arc::from(v.id.as_str()),
                    country: d.destination,
                },
                amount_tpp: d.total_tpp,
                cap_tpp: d.regime.nveu_limit_tpp(date),
            }),
        };
        out.extend(drawn);
    }
    if d.authorization == Authorization::Aia && d.total_tpp > 0 {
        out.push(Draw {
            account: AccountRef::AiaCumulative { party: party() },
            amount_tpp: d.total_tpp,
            cap_tpp: None,
        });
    }
    out
}
