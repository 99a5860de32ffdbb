//! Countries (ISO 3166-1 alpha-2) and dated EAR country-group membership.

use crate::fxhash::FxHashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 code, stored upper-case. Parsing checks the shape only; whether the code
/// exists is checked against the [`CountryTable`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Number of distinct two-letter codes ([`CountryCode::slot`] is below it).
    pub const SLOTS: usize = 26 * 26;

    /// A dense index of the code, `0..SLOTS`, for tables indexed by country.
    pub fn slot(self) -> usize {
        // INVARIANT: both bytes are ASCII upper-case letters.
        (self.0[0].wrapping_sub(b'A') as usize % 26) * 26
            + (self.0[1].wrapping_sub(b'A') as usize % 26)
    }

    /// The code as a two-letter string slice.
    pub fn as_str(&self) -> &str {
        // INVARIANT: both bytes are ASCII upper-case letters (checked in `from_str`).
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for CountryCode {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(());
        }
        Ok(CountryCode([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
        ]))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One country of the ISO list.
#[derive(Debug, Clone, Serialize)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code.
    pub code: CountryCode,
    /// English short name.
    pub name: Arc<str>,
}

/// A code the EAR treats as another country (Hong Kong is treated as China).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    /// The code as given.
    pub code: String,
    /// The code it is treated as.
    pub treated_as: String,
    /// Where the rule says so.
    pub citation: Arc<str>,
    /// Confidence tag of the fact.
    pub confidence: Arc<str>,
}

/// Membership of a country in a group between two dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatedMember {
    /// The member.
    pub country: CountryCode,
    /// First day of membership; `None` means for every date before `until`.
    pub from: Option<NaiveDate>,
    /// First day the country is no longer a member (exclusive); `None` means still a member.
    pub until: Option<NaiveDate>,
    /// Name of the [U] reading this entry rests on, if any.
    pub unconfirmed: Option<Arc<str>>,
    /// Why the entry is dated.
    pub note: Option<Arc<str>>,
}

impl DatedMember {
    fn covers(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| date >= f) && self.until.is_none_or(|u| date < u)
    }
}

/// An EAR country group (or a named list such as the AI Diffusion Tier 1 list).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Group id as the EAR writes it: `D:5`, `A:6`, `tier1`, `MO`.
    pub id: Arc<str>,
    /// Title.
    pub title: Arc<str>,
    /// CFR citation of the list.
    pub citation: Arc<str>,
    /// Confidence tag of the list.
    pub confidence: Arc<str>,
    /// Caveats on the list.
    pub note: Option<Arc<str>>,
    /// Members for every date, then dated entries.
    pub members: Vec<DatedMember>,
}

/// Index of a group in the [`CountryTable`], resolved when the policy loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct GroupIdx(pub(crate) u16);

/// The answer to "is this country in that group on that date", with the reading it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership<'a> {
    /// Whether it is a member.
    pub member: bool,
    /// The dated entry resting on a [U] reading that the answer depends on, if any.
    pub unconfirmed: Option<&'a DatedMember>,
}

/// Every country, the aliases and the groups, with fast lookups.
#[derive(Debug, Clone)]
pub struct CountryTable {
    countries: Vec<Country>,
    by_code: FxHashMap<CountryCode, usize>,
    aliases: Vec<Alias>,
    alias_target: FxHashMap<CountryCode, (CountryCode, usize)>,
    groups: Vec<Group>,
    group_by_id: FxHashMap<Arc<str>, GroupIdx>,
    /// Per country slot ([`CountryCode::slot`]) and group, at `slot * groups.len() + group`:
    /// indices into `groups[g].members` that mention the country. A dense table because every
    /// determination asks several membership questions.
    member_index: Vec<Vec<u16>>,
}

/// Errors building a [`CountryTable`] from policy data.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CountryDataError {
    /// A code that is not two letters.
    #[error("`{value}` is not an ISO 3166-1 alpha-2 code")]
    BadCode {
        /// The offending text.
        value: String,
    },
    /// A code that is not in the country list.
    #[error("unknown country code `{value}`")]
    UnknownCode {
        /// The offending code.
        value: String,
    },
    /// A code listed twice.
    #[error("country code `{value}` is listed twice")]
    Duplicate {
        /// The offending code.
        value: String,
    },
    /// A group id used twice.
    #[error("country group `{value}` is defined twice")]
    DuplicateGroup {
        /// The offending id.
        value: String,
    },
    /// A dated entry whose end is not after its start.
    #[error("membership of `{country}` in `{group}` ends on {until} before it starts on {from}")]
    EmptyInterval {
        /// Group id.
        group: String,
        /// Country code.
        country: String,
        /// Start.
        from: NaiveDate,
        /// End.
        until: NaiveDate,
    },
}

/// Parses a two-letter code, mapping a bad shape to an error that names it.
pub fn parse_code(value: &str) -> Result<CountryCode, CountryDataError> {
    value.parse().map_err(|()| CountryDataError::BadCode {
        value: value.to_string(),
    })
}

impl CountryTable {
    /// Builds the table. `groups` members are checked against `countries`.
    pub fn new(
        countries: Vec<Country>,
        aliases: Vec<Alias>,
        groups: Vec<Group>,
    ) -> Result<Self, CountryDataError> {
        let mut by_code = FxHashMap::with_capacity_and_hasher(countries.len(), Default::default());
        for (i, c) in countries.iter().enumerate() {
            if by_code.insert(c.code, i).is_some() {
                return Err(CountryDataError::Duplicate {
                    value: c.code.to_string(),
                });
            }
        }
        let known = |code: CountryCode| -> Result<CountryCode, CountryDataError> {
            if by_code.contains_key(&code) {
                Ok(code)
            } else {
                Err(CountryDataError::UnknownCode {
                    value: code.to_string(),
                })
            }
        };
        let mut alias_target = FxHashMap::default();
        for (i, a) in aliases.iter().enumerate() {
            let from = known(parse_code(&a.code)?)?;
            let to = known(parse_code(&a.treated_as)?)?;
            alias_target.insert(from, (to, i));
        }
        let mut group_by_id = FxHashMap::default();
        let mut member_index: Vec<Vec<u16>> = vec![Vec::new(); CountryCode::SLOTS * groups.len()];
        for (gi, g) in groups.iter().enumerate() {
            let idx = GroupIdx(gi as u16);
            if group_by_id.insert(g.id.clone(), idx).is_some() {
                return Err(CountryDataError::DuplicateGroup {
                    value: g.id.to_string(),
                });
            }
            for (mi, m) in g.members.iter().enumerate() {
                known(m.country)?;
                if let (Some(from), Some(until)) = (m.from, m.until) {
                    if until <= from {
                        return Err(CountryDataError::EmptyInterval {
                            group: g.id.to_string(),
                            country: m.country.to_string(),
                            from,
                            until,
                        });
                    }
                }
                member_index[m.country.slot() * groups.len() + gi].push(mi as u16);
            }
        }
        Ok(CountryTable {
            countries,
            by_code,
            aliases,
            alias_target,
            groups,
            group_by_id,
            member_index,
        })
    }

    /// Every country, in code order of the source file.
    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    /// Every group.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The alias records.
    pub fn aliases(&self) -> &[Alias] {
        &self.aliases
    }

    /// Looks a country up by code.
    pub fn get(&self, code: CountryCode) -> Option<&Country> {
        self.by_code.get(&code).map(|&i| &self.countries[i])
    }

    /// Parses and checks a code from user input.
    pub fn lookup(&self, value: &str) -> Result<CountryCode, CountryDataError> {
        let code = parse_code(value)?;
        if self.by_code.contains_key(&code) {
            Ok(code)
        } else {
            Err(CountryDataError::UnknownCode {
                value: value.to_string(),
            })
        }
    }

    /// The code the EAR treats `code` as (Hong Kong → China), with the alias applied, if any.
    pub fn canonical(&self, code: CountryCode) -> (CountryCode, Option<&Alias>) {
        match self.alias_target.get(&code) {
            Some(&(to, i)) => (to, Some(&self.aliases[i])),
            None => (code, None),
        }
    }

    /// Resolves a group id.
    pub fn group_idx(&self, id: &str) -> Option<GroupIdx> {
        self.group_by_id.get(id).copied()
    }

    /// The group behind an index.
    pub fn group(&self, idx: GroupIdx) -> &Group {
        &self.groups[idx.0 as usize]
    }

    /// Whether `code` (already canonical) is in group `idx` on `date`.
    pub fn membership(&self, code: CountryCode, idx: GroupIdx, date: NaiveDate) -> Membership<'_> {
        let entries = self
            .member_index
            .get(code.slot() * self.groups.len() + idx.0 as usize)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if entries.is_empty() {
            return Membership {
                member: false,
                unconfirmed: None,
            };
        }
        let group = &self.groups[idx.0 as usize];
        let mut unconfirmed = None;
        let mut member = false;
        for &mi in entries {
            let m = &group.members[mi as usize];
            if m.unconfirmed.is_some() {
                // The answer depends on this entry's dates whether or not it covers the date.
                unconfirmed = Some(m);
            }
            if m.covers(date) {
                member = true;
            }
        }
        Membership {
            member,
            unconfirmed,
        }
    }

    /// Ids of the groups `code` belongs to on `date`.
    pub fn groups_of(&self, code: CountryCode, date: NaiveDate) -> Vec<Arc<str>> {
        (0..self.groups.len())
            .map(|i| GroupIdx(i as u16))
            .filter(|&g| self.membership(code, g, date).member)
            .map(|g| self.group(g).id.clone())
            .collect()
    }
}

#[cfg(feature = "schema")]
crate::schema::string_type!(
    CountryCode,
    "ISO 3166-1 alpha-2 country code, upper case",
    [] as [&str; 0]
);
