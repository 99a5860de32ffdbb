//! Word lists: legal forms across languages, stop words, abbreviations and the Han words that
//! company names are built from. Linguistic data, not regulatory data.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Legal forms set aside wherever they stand, also first ("ООО Газпром", "LLC Acme").
const LEGAL_FORMS: &[&str] = &[
    "ltd",
    "limited",
    "llc",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "plc",
    "gmbh",
    "mbh",
    "ooo",
    "zao",
    "oao",
    "pao",
    "jsc",
    "ojsc",
    "cjsc",
    "pjsc",
    "fze",
    "fzco",
    "fzc",
    "fzllc",
    "llp",
    "pte",
    "pty",
    "bhd",
    "tbk",
    "sarl",
    "srl",
    "spa",
    "sdn",
    "ltda",
    "kabushiki",
    "kaisha",
    // Native spellings (compared before transliteration).
    "ооо",
    "зао",
    "оао",
    "пао",
    "тоо",
    "ао",
    "ип",
    "общество",
    "ограниченной",
    "ответственностью",
    "акционерное",
    "закрытое",
    "открытое",
    "публичное",
    "товарищество",
    "شركة",
    "ذمم",
    "شمم",
    "شمل",
    "εταιρεία",
    "αε",
    "επε",
    "주식회사",
    "유한회사",
];

/// Legal forms that are also ordinary words or initials: set aside only after the first part.
const LEGAL_FORMS_NOT_FIRST: &[&str] = &[
    "co",
    "company",
    "companies",
    "sa",
    "ag",
    "as",
    "ab",
    "ao",
    "bv",
    "nv",
    "kg",
    "oy",
    "se",
    "sas",
    "kk",
    "lp",
    "cv",
    "joint",
    "stock",
    "liability",
    "ug",
    "ev",
    "sc",
    "spz",
    "zoo",
];

/// Words that carry no identity.
const STOP_WORDS: &[&str] = &[
    "the", "of", "and", "for", "de", "la", "le", "les", "du", "des", "del", "da", "di", "der",
    "die", "das", "und", "fur", "y", "et", "al", "el", "aka", "fka", "nka",
];

/// Abbreviations and variants folded to one comparison form.
const ABBREVIATIONS: &[(&str, &[&str])] = &[
    (
        "tech",
        &[
            "technology",
            "technologies",
            "techn",
            "technical",
            "technic",
            "techs",
            "techno",
        ],
    ),
    (
        "intl",
        &[
            "international",
            "internacional",
            "internationale",
            "internatl",
            "intern",
        ],
    ),
    (
        "industry",
        &[
            "industries",
            "industrial",
            "ind",
            "inds",
            "indus",
            "industria",
        ],
    ),
    (
        "mfg",
        &[
            "manufacturing",
            "manufacture",
            "manufacturer",
            "manufacturers",
            "manuf",
        ],
    ),
    ("lab", &["laboratory", "laboratories", "labs", "labo"]),
    (
        "electronic",
        &["electronics", "elec", "electr", "electronica", "elektronik"],
    ),
    ("system", &["systems", "sys", "syst"]),
    ("engineering", &["eng", "engg", "engr", "engineer"]),
    (
        "institute",
        &["inst", "institut", "instituto", "institution"],
    ),
    (
        "university",
        &["univ", "universidad", "universite", "universitat", "uni"],
    ),
    ("science", &["sciences", "sci", "scientific"]),
    (
        "communication",
        &["communications", "comm", "comms", "commun", "telecom"],
    ),
    ("service", &["services", "svc", "svcs", "serv"]),
    ("holding", &["holdings", "hldgs", "hldg"]),
    ("investment", &["investments", "invest", "inv"]),
    ("brothers", &["bros", "bro"]),
    ("trading", &["trade", "trd", "traders"]),
    ("group", &["grp", "groupe", "gruppe", "grupo"]),
    ("academy", &["acad", "academie", "akademie"]),
    ("development", &["dev", "devt", "develop"]),
    ("association", &["assoc", "associates", "assn"]),
    ("national", &["natl", "nat"]),
    ("semiconductor", &["semiconductors", "semicon", "semi"]),
    ("microelectronics", &["microelectronic", "microelec"]),
    ("equipment", &["equip", "eqpt"]),
    ("network", &["networks", "netw"]),
    ("solution", &["solutions"]),
    ("logistics", &["logistic"]),
    ("intelligent", &["intelligence"]),
    ("information", &["info"]),
    ("circuit", &["circuits"]),
    ("enterprise", &["enterprises"]),
    ("aviation", &["aviatn"]),
    ("research", &["rsch"]),
    ("china", &["chinese"]),
    ("russia", &["russian"]),
    ("iran", &["iranian"]),
    ("korea", &["korean"]),
];

/// Legal-form words long enough that a misspelling is still recognisable (`compnay`, `lmiited`).
const LEGAL_FORMS_LONG: &[&str] = &[
    "company",
    "limited",
    "liability",
    "corporation",
    "incorporated",
    "aktiengesellschaft",
];

/// Place words: cities, provinces and countries that prefix company names (`Hangzhou Hikvision`,
/// `Huawei Technologies (Thailand)`). Linguistic data for weighting only.
const PLACES: &[&str] = &[
    "beijing",
    "shanghai",
    "shenzhen",
    "hangzhou",
    "guangzhou",
    "tianjin",
    "wuxi",
    "chengdu",
    "xian",
    "wuhan",
    "nanjing",
    "suzhou",
    "chongqing",
    "hefei",
    "changsha",
    "zhejiang",
    "jiangsu",
    "guangdong",
    "sichuan",
    "hubei",
    "hunan",
    "shandong",
    "fujian",
    "xiamen",
    "dalian",
    "harbin",
    "qingdao",
    "kunshan",
    "dongguan",
    "zhuhai",
    "shenyang",
    "jinan",
    "zhengzhou",
    "hong",
    "kong",
    "hongkong",
    "macau",
    "taiwan",
    "china",
    "moscow",
    "petersburg",
    "russia",
    "tehran",
    "iran",
    "dubai",
    "uae",
    "singapore",
    "malaysia",
    "thailand",
    "india",
    "pakistan",
    "turkey",
    "korea",
    "japan",
    "germany",
    "usa",
    "america",
    "uk",
    "london",
    "cyprus",
    "syria",
    "lebanon",
    "iraq",
];

/// Patronymic endings (Russian, Ukrainian, Belarusian): a person's middle name.
const PATRONYMIC_ENDINGS: &[&str] = &[
    "ovich", "evich", "ovna", "evna", "ichna", "ovitch", "ievich",
];

/// Han words (longest first when segmenting): Latin comparison words, or "" for a legal form.
const HAN_WORDS: &[(&str, &str)] = &[
    ("股份有限公司", ""),
    ("有限责任公司", ""),
    ("有限公司", ""),
    ("株式会社", ""),
    ("有限会社", ""),
    ("公司", ""),
    ("股份", ""),
    ("有限", ""),
    ("市", ""),
    ("省", ""),
    ("集团", "group"),
    ("技术", "tech"),
    ("科技", "tech"),
    ("电子", "electronic"),
    ("半导体", "semiconductor"),
    ("微电子", "microelectronics"),
    ("研究所", "institute"),
    ("研究院", "institute"),
    ("研究", "research"),
    ("大学", "university"),
    ("国际", "intl"),
    ("信息", "information"),
    ("通信", "communication"),
    ("智能", "intelligent"),
    ("集成电路", "integrated circuit"),
    ("制造", "mfg"),
    ("网络", "network"),
    ("软件", "software"),
    ("设备", "equipment"),
    ("系统", "system"),
    ("工业", "industry"),
    ("实业", "industry"),
    ("航空", "aviation"),
    ("航天", "aerospace"),
    ("中国", "china"),
    ("香港", "hong kong"),
    ("控股", "holding"),
    ("投资", "investment"),
    ("贸易", "trading"),
    ("工程", "engineering"),
    ("物流", "logistics"),
    ("计算机", "computer"),
    ("计算", "computing"),
    ("服务", "service"),
    ("发展", "development"),
    ("实验室", "lab"),
    ("科学院", "academy science"),
    ("学院", "academy"),
    ("终端", "terminal"),
    ("云计算", "cloud computing"),
    ("光电", "optoelectronic"),
];

/// The longest Han dictionary word, in characters.
const HAN_WORD_CHARS_MAX: usize = 6;

/// Lookup tables built once from the word lists above.
struct Tables {
    legal_forms: HashSet<&'static str>,
    legal_forms_not_first: HashSet<&'static str>,
    abbreviations: HashMap<&'static str, &'static str>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        legal_forms: LEGAL_FORMS.iter().copied().collect(),
        legal_forms_not_first: LEGAL_FORMS_NOT_FIRST.iter().copied().collect(),
        abbreviations: ABBREVIATIONS
            .iter()
            .flat_map(|(canonical, variants)| variants.iter().map(move |v| (*v, *canonical)))
            .collect(),
    })
}

/// Whether a part is a legal form (`first`: it is the name's first part).
pub fn is_legal_form(native: &str, latin: &str, first: bool) -> bool {
    let tables = tables();
    let listed = |set: &HashSet<&str>| set.contains(native) || set.contains(latin);
    listed(&tables.legal_forms) || (!first && listed(&tables.legal_forms_not_first))
}

/// Whether a Latin part is a stop word.
pub fn is_stop_word(latin: &str) -> bool {
    STOP_WORDS.contains(&latin)
}

/// The comparison form of an abbreviation or variant, if it is one.
pub fn canonical_abbreviation(latin: &str) -> Option<&'static str> {
    tables().abbreviations.get(latin).copied()
}

/// Whether a Latin part is a misspelt long legal-form word (one edit, two from nine letters).
pub fn is_legal_form_misspelt(latin: &str) -> bool {
    latin.len() >= 6
        && LEGAL_FORMS_LONG.iter().any(|word| {
            let allowed = if word.len() >= 9 { 2 } else { 1 };
            word.as_bytes()[0] == latin.as_bytes()[0]
                && word.len().abs_diff(latin.len()) <= allowed
                && (1..=allowed).contains(&strsim::osa_distance(word, latin))
        })
}

/// Whether a Latin part names a place.
pub fn is_place(latin: &str) -> bool {
    PLACES.contains(&latin)
}

/// Whether a Latin part is a patronymic.
pub fn is_patronymic(latin: &str) -> bool {
    latin.len() >= 7 && PATRONYMIC_ENDINGS.iter().any(|e| latin.ends_with(e))
}

/// The comparison form of a misspelt long variant (`technologeis` → `tech`): one edit from a
/// listed word of seven letters or more (two from one of ten or more), same first three letters.
pub fn canonical_abbreviation_fuzzy(latin: &str) -> Option<&'static str> {
    if latin.len() < 7 {
        return None;
    }
    ABBREVIATIONS.iter().find_map(|(canonical, variants)| {
        let close = |word: &&str| {
            word.len() >= 7
                && word.as_bytes()[..3] == latin.as_bytes()[..3]
                && strsim::osa_distance(word, latin) <= if word.len() >= 10 { 2 } else { 1 }
        };
        (std::iter::once(canonical).any(close) || variants.iter().any(close)).then_some(*canonical)
    })
}

/// The Latin words of a Han dictionary word ("" for a legal form), if it is one.
pub fn han_word(native: &str) -> Option<&'static str> {
    HAN_WORDS
        .iter()
        .find(|(han, _)| *han == native)
        .map(|(_, latin)| *latin)
}

/// Segments a run of Han characters: dictionary words by longest match; the characters between
/// them are cut into two-character words (names and places are mostly two characters; a run of
/// three stays whole).
pub fn segment_han(run: &str) -> Vec<String> {
    let chars: Vec<char> = run.chars().collect();
    let mut words = Vec::new();
    let mut unknown = String::new();
    let mut start = 0;
    while start < chars.len() {
        match longest_han_word(&chars[start..]) {
            Some(length) => {
                cut_unknown(&mut unknown, &mut words);
                words.push(chars[start..start + length].iter().collect());
                start += length;
            }
            None => {
                unknown.push(chars[start]);
                start += 1;
            }
        }
    }
    cut_unknown(&mut unknown, &mut words);
    words
}

fn longest_han_word(chars: &[char]) -> Option<usize> {
    (2..=HAN_WORD_CHARS_MAX.min(chars.len()))
        .rev()
        .chain(std::iter::once(1).filter(|_| !chars.is_empty()))
        .find(|&length| {
            let candidate: String = chars[..length].iter().collect();
            han_word(&candidate).is_some()
        })
}

fn cut_unknown(unknown: &mut String, words: &mut Vec<String>) {
    let chars: Vec<char> = unknown.chars().collect();
    let mut start = 0;
    while start < chars.len() {
        let remaining = chars.len() - start;
        let length = if remaining == 3 || remaining == 1 {
            remaining
        } else {
            2
        };
        words.push(chars[start..start + length].iter().collect());
        start += length;
    }
    unknown.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn han_segmentation() {
        assert_eq!(
            segment_han("华为技术有限公司"),
            ["华为", "技术", "有限公司"]
        );
        assert_eq!(segment_han("深圳市华为"), ["深圳", "市", "华为"]);
        assert_eq!(segment_han("寒武纪"), ["寒武纪"]);
    }

    #[test]
    fn legal_forms_by_position() {
        assert!(is_legal_form("ооо", "ooo", true));
        assert!(!is_legal_form("co", "co", true));
        assert!(is_legal_form("co", "co", false));
    }
}
