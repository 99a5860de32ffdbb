//! Name normalization: Unicode NFKC, case folding, punctuation, legal forms, abbreviations,
//! transliteration to Latin (keeping the original script beside it), tokens.
//!
//! A name becomes a [`NameForm`]: its tokens, each with a Latin comparison form (`latin`) and the
//! text as written in its own script (`native`), plus the legal forms that were set aside (they
//! are reported, never matched: "Co., Ltd." says nothing about who a party is). No script is
//! stripped: a token in Han, Cyrillic, Arabic or Greek keeps its native text, and its Latin form
//! is derived from it (dictionary words first, then `deunicode`).

use unicode_normalization::UnicodeNormalization;

use crate::dict;

/// How a token compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A word (Latin letters after transliteration).
    Word,
    /// Digits: must agree exactly.
    Number,
    /// One letter (an initial).
    Initial,
}

/// The script a token was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    /// Latin (or digits).
    Latin,
    /// Cyrillic.
    Cyrillic,
    /// Greek.
    Greek,
    /// Arabic (an abjad: short vowels unwritten, so its tokens also compare by consonants).
    Arabic,
    /// Han (Chinese, Japanese kanji).
    Han,
    /// Any other script (transliterated by `deunicode`).
    Other,
}

/// One name part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The Latin comparison form (lowercase ASCII letters and digits, abbreviations expanded).
    pub latin: String,
    /// The part as written (NFKC, lowercase), in its own script.
    pub native: String,
    /// Word, number or initial.
    pub kind: TokenKind,
    /// Script of `native`.
    pub script: Script,
    /// The Latin form before abbreviations were folded (typos compare on it).
    pub spelled: String,
    /// A middle name by position (after the first given name in `SURNAME, Given Middle`, or
    /// between the first and last part), or a patronymic: for persons, left over, it weighs less.
    pub middle: bool,
    /// A place word (city, province, country): left over, it weighs less.
    pub place: bool,
}

/// A normalized name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameForm {
    /// The name parts that identify the party, in order.
    pub tokens: Vec<Token>,
    /// Legal forms and stop words set aside (e.g. `co`, `ltd`, `有限公司`, `ооо`).
    pub legal_forms: Vec<String>,
}

/// Normalizes one name (any script; never panics; an empty result means no usable part).
pub fn normalize(name: &str) -> NameForm {
    let folded: String = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.nfkc()
            .filter(|c| !is_invisible_joiner(*c))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mut raw: Vec<(String, Script)> = Vec::new();
    // `SURNAME, Given Middle`: where the given names start (the first comma).
    let (before, after) = folded.split_once(',').unwrap_or((folded.as_str(), ""));
    for chunk in before.split(is_separator) {
        split_chunk(chunk, &mut raw);
    }
    let parts_before_comma = (!after.is_empty()).then_some(raw.len());
    for chunk in after.split(is_separator) {
        split_chunk(chunk, &mut raw);
    }
    let mut form = NameForm::default();
    let mut given_start = None;
    for (position, (native, script)) in raw.into_iter().enumerate() {
        if parts_before_comma == Some(position) {
            given_start = Some(form.tokens.len());
        }
        push_token(&mut form, native, script, position);
    }
    let mut form = restore_if_empty(form);
    mark_middle_names(&mut form, given_start);
    form
}

/// Zero-width joiners and spaces (Persian writes ZWNJ inside words): removed, not split on.
fn is_invisible_joiner(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}'
    )
}

/// Marks middle names: in `SURNAME, Given Middle…` the parts after the first given name; else
/// the parts between the first and the last; and patronymics anywhere.
fn mark_middle_names(form: &mut NameForm, given_start: Option<usize>) {
    let count = form.tokens.len();
    for (index, token) in form.tokens.iter_mut().enumerate() {
        let by_position = match given_start {
            Some(start) if start < count => index > start,
            _ => index > 0 && index + 1 < count,
        };
        token.middle = by_position || (count >= 3 && dict::is_patronymic(&token.latin));
    }
}

/// Whether `c` separates chunks (whitespace and punctuation other than `.`, `-`, `'`).
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || (!c.is_alphanumeric() && !matches!(c, '.' | '-' | '\'' | '’' | '`'))
        || matches!(c, '\u{3000}' | '・' | '·')
}

/// Splits a chunk into raw parts: dotted abbreviations joined (`s.a.` → `sa`, `u.s.a` → `usa`),
/// other dots and hyphens split, apostrophes dropped, script changes split, Han segmented.
fn split_chunk(chunk: &str, out: &mut Vec<(String, Script)>) {
    let chunk: String = chunk
        .chars()
        .filter(|c| !matches!(c, '\'' | '’' | '`'))
        .collect();
    let pieces: Vec<&str> = chunk.split('.').filter(|p| !p.is_empty()).collect();
    let dotted_abbreviation = pieces.len() > 1 && pieces.iter().all(|p| p.chars().count() <= 2);
    if dotted_abbreviation {
        split_scripts(&pieces.concat(), out);
        return;
    }
    for piece in pieces.iter().flat_map(|p| p.split('-')) {
        split_scripts(piece, out);
    }
}

/// Splits where the script changes; Han runs go through the dictionary segmenter.
fn split_scripts(piece: &str, out: &mut Vec<(String, Script)>) {
    let mut current = String::new();
    let mut current_script = Script::Latin;
    for c in piece.chars() {
        let script = script_of(c);
        if !current.is_empty() && script != current_script {
            flush(&mut current, current_script, out);
        }
        current_script = script;
        current.push(c);
    }
    flush(&mut current, current_script, out);
}

fn flush(current: &mut String, script: Script, out: &mut Vec<(String, Script)>) {
    if current.is_empty() {
        return;
    }
    if script == Script::Han {
        for word in dict::segment_han(current) {
            out.push((word, Script::Han));
        }
    } else {
        out.push((current.clone(), script));
    }
    current.clear();
}

/// The script of one character.
pub fn script_of(c: char) -> Script {
    match c as u32 {
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Script::Greek,
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Script::Arabic
        }
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F => Script::Han,
        _ if c.is_ascii() || (c as u32) < 0x0250 || (0x1E00..=0x1EFF).contains(&(c as u32)) => {
            Script::Latin
        }
        _ => Script::Other,
    }
}

/// Adds one raw part: legal forms and stop words are set aside, the rest becomes a token.
fn push_token(form: &mut NameForm, native: String, script: Script, position: usize) {
    if let Some(word) = dict::han_word(&native) {
        push_latin_words(form, &native, word, script);
        return;
    }
    let latin = to_latin(strip_arabic_article(&native, script));
    if latin.is_empty() {
        return;
    }
    if dict::is_legal_form(&native, &latin, position == 0)
        || dict::is_legal_form_misspelt(&latin)
        || dict::is_stop_word(&latin)
    {
        form.legal_forms.push(native);
        return;
    }
    let canonical =
        dict::canonical_abbreviation(&latin).or_else(|| dict::canonical_abbreviation_fuzzy(&latin));
    let folded = canonical.map_or_else(|| latin.clone(), str::to_owned);
    let mut token = make_token(folded, native, script);
    token.spelled = strip_ordinal(latin);
    form.tokens.push(token);
}

/// An Arabic word without its article `ال` (written `al-`/`el-` in Latin, a stop word there).
fn strip_arabic_article(native: &str, script: Script) -> &str {
    match native.strip_prefix("ال") {
        Some(rest) if script == Script::Arabic && rest.chars().count() >= 2 => rest,
        _ => native,
    }
}

/// A Han dictionary word: a legal form (set aside) or one or more Latin words.
fn push_latin_words(form: &mut NameForm, native: &str, word: &str, script: Script) {
    if word.is_empty() {
        form.legal_forms.push(native.to_owned());
        return;
    }
    for latin in word.split(' ') {
        form.tokens
            .push(make_token(latin.to_owned(), native.to_owned(), script));
    }
}

fn make_token(latin: String, native: String, script: Script) -> Token {
    let latin = strip_ordinal(latin);
    let place = dict::is_place(&latin);
    let kind = if latin.bytes().any(|b| b.is_ascii_digit()) {
        TokenKind::Number
    } else if latin.len() == 1 {
        TokenKind::Initial
    } else {
        TokenKind::Word
    };
    Token {
        spelled: latin.clone(),
        latin,
        native,
        kind,
        script,
        middle: false,
        place,
    }
}

/// `23rd` → `23` (ordinal suffixes of English numbers).
fn strip_ordinal(latin: String) -> String {
    let digits = latin.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &latin[digits..];
    if digits > 0 && matches!(suffix, "st" | "nd" | "rd" | "th") {
        latin[..digits].to_owned()
    } else {
        latin
    }
}

/// The Latin comparison form of a part: `deunicode`, lowercase, ASCII letters and digits only
/// (Han syllables joined, so 华为 gives `huawei`).
pub fn to_latin(native: &str) -> String {
    let mut out = String::with_capacity(native.len());
    if native.is_ascii() {
        out.extend(
            native
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase()),
        );
        return out;
    }
    for c in deunicode::deunicode(native).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A name made only of legal forms and stop words (e.g. "Company Limited") keeps them as tokens,
/// so it still matches itself.
fn restore_if_empty(mut form: NameForm) -> NameForm {
    if form.tokens.is_empty() && !form.legal_forms.is_empty() {
        for native in std::mem::take(&mut form.legal_forms) {
            let script = native.chars().next().map_or(Script::Latin, script_of);
            let latin = to_latin(&native);
            if !latin.is_empty() {
                form.tokens.push(make_token(latin, native, script));
            }
        }
    }
    form
}

/// The consonant skeleton of a Latin form (vowels and `h`/`w`/`y` dropped, doubles merged), used
/// to compare abjad (Arabic) spellings, which do not write short vowels.
pub fn skeleton(latin: &str) -> String {
    let mut out = String::with_capacity(latin.len());
    let mut previous = '\0';
    for c in latin.chars() {
        if matches!(
            c,
            'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'h' | 'w' | '\'' | '@'
        ) {
            continue;
        }
        if c != previous {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// The shortest phonetic key compared or indexed.
pub const PHONETIC_KEY_LEN_MIN: usize = 3;

/// A Soundex-style phonetic key of a Latin form: the first sound's class, then consonant classes
/// with vowels dropped and repeats merged; digraphs (`ph`, `kh`, `sh`, `ck`, `x`) folded first,
/// so `c`/`k`/`q`, `f`/`ph`/`v` and `kh`/`h` agree even in first position. Keys shorter than
/// three classes say too little and are not used ([`PHONETIC_KEY_LEN_MIN`]).
pub fn phonetic_key(latin: &str) -> String {
    let folded = latin
        .replace("sch", "s")
        .replace("ts", "s")
        .replace("tz", "s")
        .replace("ph", "f")
        .replace("kh", "h")
        .replace("gh", "g")
        .replace("ck", "k")
        .replace("sh", "s")
        .replace("ch", "s")
        .replace('x', "ks");
    let mut out = String::with_capacity(8);
    let mut previous = '\0';
    for (index, c) in folded.chars().enumerate() {
        let class = sound_class(c);
        if class == '0' && index > 0 {
            previous = '0';
            continue;
        }
        if class != previous {
            out.push(class);
        }
        previous = class;
    }
    out
}

fn sound_class(c: char) -> char {
    match c {
        'b' | 'p' | 'f' | 'v' => '1',
        'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'z' => '2',
        'd' | 't' => '3',
        'l' => '4',
        'm' | 'n' => '5',
        'r' => '6',
        'h' => '0',
        '0'..='9' => c,
        _ => '0',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latin(name: &str) -> Vec<String> {
        normalize(name)
            .tokens
            .into_iter()
            .map(|t| t.latin)
            .collect()
    }

    #[test]
    fn forms_and_scripts() {
        // (input, expected Latin tokens): legal forms in several languages, abbreviations,
        // transliteration, dotted abbreviations.
        let cases: &[(&str, &[&str])] = &[
            ("Huawei Technologies Co., Ltd.", &["huawei", "tech"]),
            ("Huawei Tech. Co Ltd", &["huawei", "tech"]),
            ("华为技术有限公司", &["huawei", "tech"]),
            ("ООО Газпром нефть", &["gazprom", "neft"]),
            ("Müller GmbH", &["muller"]),
            ("ACME Intl, LLC", &["acme", "intl"]),
            ("U.S.A. Trading S.A.", &["usa", "trading"]),
            ("Ελληνική Τράπεζα Εταιρεία", &["ellenike", "trapeza"]),
            ("Company Limited", &["company"]),
            ("O'Brien", &["obrien"]),
        ];
        for (input, expected) in cases {
            assert_eq!(latin(input), *expected, "{input}");
        }
    }

    #[test]
    fn native_text_is_kept() {
        let form = normalize("华为技术有限公司");
        assert_eq!(form.tokens[0].native, "华为");
        assert_eq!(form.tokens[0].script, Script::Han);
        assert_eq!(form.legal_forms, vec!["有限公司".to_owned()]);
    }

    #[test]
    fn keys() {
        assert_eq!(phonetic_key("khalid"), phonetic_key("halid"));
        assert_eq!(phonetic_key("mohammed"), phonetic_key("muhamad"));
        assert_eq!(skeleton("muhammad"), skeleton("mhmd"));
    }
}
