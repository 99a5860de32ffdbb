//! What a transaction draws on: the ledger accounts, amounts and caps, decided by the
//! determination and by nothing else.
//!
//! A [`Determination`](crate::Determination) carries its [`Draw`]s; [`balance_reads`] names the
//! balances a determination must be given before it is made. Both build accounts from canonical
//! parties (destination and headquarters after aliases, the consignee as a [`PartyId`]) and render
//! ledger keys in one place, [`AccountRef::ledger_key`]. The service, the batch and the simulator
//! apply draws; none of them builds a key or a cap.

use std::sync::Arc;

use chrono::Datelike;
use serde::Serialize;

use crate::country::CountryCode;
use crate::determine::{Authorization, Counter, DetermineError};
use crate::input::{Context, DeterminationInput};
use crate::party::PartyId;
use crate::policy::Policy;
use crate::regime::Regime;

/// A ledger account a transaction reads or draws on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountRef {
    /// A Tier 2 destination's allocation over the regime's window (global: shared by everyone).
    CountryAllocation {
        /// Destination.
        country: CountryCode,
        /// First year of the window.
        from_year: i32,
        /// Last year of the window.
        to_year: i32,
    },
    /// A consignee's LPP calendar-year total.
    LppAnnual {
        /// The consignee.
        party: PartyId,
        /// Calendar year.
        year: i32,
    },
    /// An NVEU's installed base in a country.
    NveuInstalledBase {
        /// The VEU authorization's id, as claimed.
        veu: Arc<str>,
        /// The country of the site.
        country: CountryCode,
    },
    /// A consignee's cumulative TPP received under AIA (the certification-report trigger).
    AiaCumulative {
        /// The consignee.
        party: PartyId,
    },
    /// TPP licensed beyond a destination's allocation (global, uncapped): what licenses that
    /// BIS granted past the allocation drew over it.
    BeyondAllocation {
        /// Destination.
        country: CountryCode,
        /// First year of the window.
        from_year: i32,
        /// Last year of the window.
        to_year: i32,
    },
}

impl AccountRef {
    /// The ledger key. `scope` is the tenant whose records the account belongs to (the CLI's
    /// is `local`); country allocations are global and ignore it. The scope ends at `@`, which
    /// no tenant id contains, so no tenant's keys are a prefix of another's (and keys need no
    /// escaping in a URL path).
    pub fn ledger_key(&self, scope: &str) -> String {
        match self {
            AccountRef::CountryAllocation {
                country,
                from_year,
                to_year,
            } => format!("country:{country}:{from_year}-{to_year}"),
            AccountRef::LppAnnual { party, year } => format!("lpp:{scope}@{party}:{year}"),
            AccountRef::NveuInstalledBase { veu, country } => {
                format!("nveu:{scope}@{veu}:{country}")
            }
            AccountRef::AiaCumulative { party } => format!("aia:{scope}@{party}"),
            AccountRef::BeyondAllocation {
                country,
                from_year,
                to_year,
            } => format!("country-beyond:{country}:{from_year}-{to_year}"),
        }
    }

    /// For an allocation, the account of what licenses granted past it draw over it.
    pub fn beyond(&self) -> Option<AccountRef> {
        match self {
            AccountRef::CountryAllocation {
                country,
                from_year,
                to_year,
            } => Some(AccountRef::BeyondAllocation {
                country: *country,
                from_year: *from_year,
                to_year: *to_year,
            }),
            _ => None,
        }
    }

    /// The prefixes of every key that belongs to `scope` (for visibility checks).
    pub fn scope_prefixes(scope: &str) -> [String; 3] {
        [
            format!("lpp:{scope}@"),
            format!("nveu:{scope}@"),
            format!("aia:{scope}@"),
        ]
    }

    /// Whether the account is shared by every tenant.
    pub fn is_global(&self) -> bool {
        matches!(
            self,
            AccountRef::CountryAllocation { .. } | AccountRef::BeyondAllocation { .. }
        )
    }

    /// Whether the determination reads the posted total only (installed base, cumulative
    /// receipts) rather than posted plus pending holds (capped allowances).
    pub fn reads_posted_only(&self) -> bool {
        matches!(
            self,
            AccountRef::NveuInstalledBase { .. } | AccountRef::AiaCumulative { .. }
        )
    }
}

/// One draw: `amount_tpp` on `account`, which must stay within `cap_tpp` (none: uncapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Draw {
    /// The account.
    pub account: AccountRef,
    /// TPP drawn.
    pub amount_tpp: u64,
    /// The account's cap under the regime on this date (none: uncapped).
    pub cap_tpp: Option<u64>,
}

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
    let hq = crate::determine::canonical_country(policy, "consignee.hq", &input.consignee.hq)?;
    Ok(PartyId::of(&input.consignee.name, hq.as_str()))
}

/// The balances a determination of `input` needs (see [`BalanceReads`]).
pub fn balance_reads(
    policy: &Policy,
    input: &DeterminationInput,
) -> Result<BalanceReads, DetermineError> {
    let regime = crate::determine::answering_regime(policy, input)?;
    let dest = crate::determine::canonical_country(policy, "destination", &input.destination)?;
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

fn allocation_account(regime: &Regime, dest: CountryCode) -> Option<AccountRef> {
    regime
        .spec
        .allocation
        .as_ref()
        .map(|a| AccountRef::CountryAllocation {
            country: dest,
            from_year: a.window_start.year(),
            to_year: a.window_end.year(),
        })
}

/// What [`draws`] needs to know of a finished determination.
pub(crate) struct Drawn<'a> {
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
pub(crate) fn draws(d: &Drawn<'_>) -> Vec<Draw> {
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
