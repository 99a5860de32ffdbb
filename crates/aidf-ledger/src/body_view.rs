//! The few fields the ledger reads inside a shipment's stored determination (its register
//! columns, its VEU row, its audit record's outcome), read from the text in one pass without
//! building a tree.
//!
//! Read as `serde_json::Value` indexing reads: a field that is absent, `null` or of another
//! type is `None`, and so is everything under it; other fields are skipped.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::JsonText;

/// The stored body: `{determination, input, ...}`, or a bare determination (records written
/// before the service stored the input beside it).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct BodyView {
    pub determination: Lenient<DeterminationView>,
    pub input: Lenient<InputView>,
    /// A bare determination's fields.
    pub authorization: Lenient<String>,
    pub regime: Lenient<RegimeView>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct DeterminationView {
    pub authorization: Lenient<String>,
    pub destination: Lenient<String>,
    pub eccn: Lenient<String>,
    pub item: Lenient<NameView>,
    pub quantity: Lenient<i64>,
    pub total_tpp: Lenient<i64>,
    pub regime: Lenient<RegimeView>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RegimeView {
    pub digest: Lenient<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct NameView {
    pub name: Lenient<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct InputView {
    pub destination: Lenient<String>,
    pub consignee: Lenient<ConsigneeView>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ConsigneeView {
    pub name: Lenient<String>,
    pub veu: Lenient<VeuView>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct VeuView {
    pub id: Lenient<String>,
}

impl BodyView {
    /// The view of a stored body; a body that cannot be read this way (not an object, a
    /// duplicate key) has no fields.
    pub fn of(body: &JsonText) -> BodyView {
        if !body.is_object() {
            return BodyView::default();
        }
        body.parse().unwrap_or_default()
    }

    /// The determination: the body's `determination` object, else the body itself.
    pub fn authorization_and_digest(&self) -> (Option<&str>, Option<&str>) {
        fn digest(r: &Lenient<RegimeView>) -> Option<&str> {
            r.get().and_then(|r| r.digest.as_deref())
        }
        match self.determination.get() {
            Some(d) => (d.authorization.as_deref(), digest(&d.regime)),
            None => (self.authorization.as_deref(), digest(&self.regime)),
        }
    }
}

/// A field read leniently: `Some` only when the JSON value has the kind `T` reads.
#[derive(Debug)]
pub(crate) struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<T> Lenient<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl Lenient<String> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl Lenient<i64> {
    pub fn value(&self) -> Option<i64> {
        self.0
    }
}

/// What a lenient field takes from each kind of JSON value (nothing, unless said).
pub(crate) trait ReadLeniently: Sized {
    fn from_text(_: &str) -> Option<Self> {
        None
    }
    fn from_integer(_: i128) -> Option<Self> {
        None
    }
    /// An object; the default skips it.
    fn from_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl ReadLeniently for String {
    fn from_text(v: &str) -> Option<Self> {
        Some(v.to_string())
    }
}

impl ReadLeniently for i64 {
    fn from_integer(v: i128) -> Option<Self> {
        i64::try_from(v).ok()
    }
}

/// Views are objects whose fields are all lenient: reading one cannot fail but on a
/// duplicate key.
macro_rules! object_view {
    ($($t:ty),*) => {$(
        impl ReadLeniently for $t {
            fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
                <$t>::deserialize(MapAccessDeserializer::new(map)).map(Some)
            }
        }
    )*};
}
object_view!(
    DeterminationView,
    RegimeView,
    NameView,
    InputView,
    ConsigneeView,
    VeuView
);

impl<'de, T: ReadLeniently> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData)).map(Lenient)
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: ReadLeniently> Visitor<'de> for LenientVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(T::from_text(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(T::from_integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(T::from_integer(v.into()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each field as `Value` indexing reads it, on bodies of every shape.
    #[test]
    fn the_view_reads_as_value_indexing_does() {
        let bodies = [
            r#"{"determination":{"authorization":"LPP","destination":"MY","eccn":"3A090.a","item":{"name":"H100","x":[1,{"y":2}]},"quantity":10,"total_tpp":158320,"regime":{"digest":"sha256:ab"}},"input":{"destination":"my","consignee":{"name":"华为技术","veu":{"id":"V1"}}},"notes":["a"]}"#,
            r#"{"determination":{"authorization":7,"destination":null,"item":"H100","quantity":1.5,"total_tpp":-3,"regime":[]},"input":{"consignee":"x"}}"#,
            r#"{"authorization":"license","regime":{"digest":"sha256:cd"},"quantity":18446744073709551615}"#,
            r#"{"determination":"bare","input":[1,2]}"#,
            r#"[1,2,3]"#,
            r#"[{"authorization":"LPP"},{"destination":"MY"},"LPP",{"digest":"sha256:ab"}]"#,
            r#""text""#,
            r#"{"determination":{"quantity":18446744073709551615}}"#,
        ];
        for text in bodies {
            let v: serde_json::Value = serde_json::from_str(text).expect("json");
            let view = BodyView::of(&JsonText::from_json(text.into()).expect("json"));
            let d = &v["determination"];
            let det = view.determination.get();
            let field = |f: fn(&DeterminationView) -> Option<&str>| det.and_then(f);
            assert_eq!(
                field(|d| d.authorization.as_deref()),
                d["authorization"].as_str(),
                "{text}"
            );
            assert_eq!(
                field(|d| d.destination.as_deref()),
                d["destination"].as_str(),
                "{text}"
            );
            assert_eq!(field(|d| d.eccn.as_deref()), d["eccn"].as_str(), "{text}");
            assert_eq!(
                field(|d| d.item.get().and_then(|i| i.name.as_deref())),
                d["item"]["name"].as_str(),
                "{text}"
            );
            assert_eq!(
                det.and_then(|d| d.quantity.value()),
                d["quantity"].as_i64(),
                "{text}"
            );
            assert_eq!(
                det.and_then(|d| d.total_tpp.value()),
                d["total_tpp"].as_i64(),
                "{text}"
            );
            let input = view.input.get();
            let consignee = input.and_then(|i| i.consignee.get());
            assert_eq!(
                input.and_then(|i| i.destination.as_deref()),
                v["input"]["destination"].as_str(),
                "{text}"
            );
            assert_eq!(
                consignee.and_then(|c| c.name.as_deref()),
                v["input"]["consignee"]["name"].as_str(),
                "{text}"
            );
            assert_eq!(
                consignee
                    .and_then(|c| c.veu.get())
                    .and_then(|veu| veu.id.as_deref()),
                v["input"]["consignee"]["veu"]["id"].as_str(),
                "{text}"
            );
            let outer = if d.is_object() { d } else { &v };
            assert_eq!(
                view.authorization_and_digest(),
                (
                    outer["authorization"].as_str(),
                    outer["regime"]["digest"].as_str()
                ),
                "{text}"
            );
        }
    }

    /// A duplicate key (never written: bodies are serialized from structs) is read as no fields
    /// at all, where `Value` would take the last one.
    #[test]
    fn a_body_with_a_duplicate_key_has_no_fields() {
        let text = r#"{"authorization":"A","regime":{"digest":"d"},"authorization":"B"}"#;
        let view = BodyView::of(&JsonText::from_json(text.into()).expect("json"));
        assert!(view.determination.get().is_none());
        assert_eq!(view.authorization_and_digest(), (None, None));
    }
}
