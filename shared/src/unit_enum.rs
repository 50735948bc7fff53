//! One decoder for every enum of plain names (`"up"`, `"not_configured"`).
//!
//! serde's derived `Deserialize` for such an enum is a visitor, a variant-name visitor and a
//! copy of the format's `deserialize_enum` per enum, about 1 KB of wasm each. [`unit_enum!`]
//! writes the same decoding against one visitor that reads a variant's index from the
//! enum's table of names, compiled once per format for all of them (README "Size"). It
//! goes through the format's `deserialize_enum` as the derive does, so it accepts the same
//! input (`"up"`, and serde_json's `{"up":null}`) with the same errors. `Serialize` stays
//! derived; a test checks each table against it.

use serde::de::{self, Deserializer, EnumAccess, Error, Unexpected, VariantAccess, Visitor};
use std::fmt;

/// The index of the variant `d` holds, in `names` (the enum's variants in declaration
/// order, as its `Serialize` spells them). `name` is the enum's, as the derive passes it.
pub fn variant<'de, D: Deserializer<'de>>(
    d: D,
    name: &'static str,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    d.deserialize_enum(name, names, Names { name, names })
}

/// [`variant`] as a seed, for a tag read inside another value.
#[derive(Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    pub names: &'static [&'static str],
}

impl<'de> de::DeserializeSeed<'de> for Variant {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        variant(d, self.name, self.names)
    }
}

#[derive(Clone, Copy)]
struct Names {
    name: &'static str,
    names: &'static [&'static str],
}

impl<'de> Visitor<'de> for Names {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "enum {}", self.name)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<usize, A::Error> {
        let (i, access) = data.variant_seed(VariantName(self.names))?;
        access.unit_variant()?;
        Ok(i)
    }
}

/// The variant's name (or index, in formats that write one), as the derive's `__Field`.
struct VariantName(&'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for VariantName {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for VariantName {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("variant identifier")
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<usize, E> {
        match usize::try_from(v) {
            Ok(i) if i < self.0.len() => Ok(i),
            _ => Err(E::invalid_value(
                Unexpected::Unsigned(v),
                &format!("variant index 0 <= i < {}", self.0.len()).as_str(),
            )),
        }
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<usize, E> {
        self.0.iter().position(|n| *n == v).ok_or_else(|| E::unknown_variant(v, self.0))
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<usize, E> {
        match std::str::from_utf8(v) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::unknown_variant(&String::from_utf8_lossy(v), self.0)),
        }
    }
}

/// `Deserialize` for the unit-only enum `$ty` through [`variant`]: list every variant in
/// declaration order with the name its `Serialize` writes. A missing variant does not
/// compile (`WIRE`'s exhaustive match); a misspelt one fails `unit_enum::tests`.
macro_rules! unit_enum {
    ($ty:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const ALL: &[$ty] = &[$($ty::$variant),+];
                const NAMES: &[&str] = &[$($wire),+];
                let i = $crate::unit_enum::variant(d, stringify!($ty), NAMES)?;
                // `variant` answers an index of `NAMES`, which `ALL` matches.
                ALL.get(i).copied().ok_or_else(|| serde::de::Error::custom("variant index"))
            }
        }
        #[cfg(test)]
        impl $ty {
            /// Every variant with its wire name (checked against `Serialize` in tests).
            pub(crate) const WIRE: &'static [($ty, &'static str)] = &[$(($ty::$variant, $wire)),+];
            #[allow(dead_code)]
            fn wire_is_exhaustive(self) {
                match self {
                    $($ty::$variant => ()),+
                }
            }
        }
    };
}
pub(crate) use unit_enum;

#[cfg(test)]
mod tests {
    use crate::api_error::ErrorCode;
    use crate::auth::{Admission, DisconnectReason, GuardAction, SessionState};
    use crate::fleet::{CheckResult, OpenVpnState, Status};
    use crate::health::Health;
    use crate::probe::Region;
    use crate::sla::{CreditStatus, Measurement, MinuteState};
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use std::fmt::Debug;

    /// Each table names every variant as its `Serialize` does, in declaration order, and the
    /// decoder reads each back (a string, and serde_json's `{"name":null}` form).
    fn check<T: Serialize + DeserializeOwned + PartialEq + Debug + Copy>(wire: &[(T, &str)]) {
        for (v, name) in wire {
            assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<T>(&format!("\"{name}\"")).unwrap(), *v);
            assert_eq!(serde_json::from_str::<T>(&format!("{{\"{name}\":null}}")).unwrap(), *v);
            assert_eq!(serde_json::from_value::<T>(serde_json::Value::String(name.to_string())).unwrap(), *v);
        }
    }

    #[test]
    fn every_table_is_the_derived_spelling() {
        check(ErrorCode::WIRE);
        check(Admission::WIRE);
        check(DisconnectReason::WIRE);
        check(GuardAction::WIRE);
        check(SessionState::WIRE);
        check(CheckResult::WIRE);
        check(OpenVpnState::WIRE);
        check(Status::WIRE);
        check(Health::WIRE);
        check(Region::WIRE);
        check(CreditStatus::WIRE);
        check(Measurement::WIRE);
        check(MinuteState::WIRE);
    }

    /// The derive's errors, word for word (serde_json adds the position).
    #[test]
    fn bad_names_fail_as_the_derive_did() {
        let e = |json: &str| serde_json::from_str::<Status>(json).unwrap_err().to_string();
        assert_eq!(
            e(r#""sideways""#),
            "unknown variant `sideways`, expected one of `up`, `down`, `maintenance` at line 1 column 10"
        );
        assert_eq!(e("1"), "expected value at line 1 column 1");
        assert_eq!(e("null"), "expected value at line 1 column 1");
        assert_eq!(e(r#"{"up":1}"#), "invalid type: integer `1`, expected unit at line 1 column 7");
        assert_eq!(e(r#"{"up":null,"down":null}"#), "expected value at line 1 column 10");
        let v = |v: serde_json::Value| serde_json::from_value::<Status>(v).unwrap_err().to_string();
        assert_eq!(v(serde_json::json!(1)), "invalid type: integer `1`, expected string or map");
        assert_eq!(v(serde_json::json!("x")), "unknown variant `x`, expected one of `up`, `down`, `maintenance`");
        let m =
            |json: &str| serde_json::from_str::<std::collections::BTreeMap<Region, u8>>(json).unwrap_err().to_string();
        assert_eq!(
            m(r#"{"mars":1}"#),
            "unknown variant `mars`, expected one of `wnam`, `enam`, `weur`, `eeur`, `apac`, `oc` at line 1 column 7"
        );
    }
}
