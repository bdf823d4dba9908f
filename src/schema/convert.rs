//! Value conversion between column types, for `schema alter --set-type` and schema merges.
//!
//! Conversions are exact or refused: a value that would change (an INT beyond 2^53 as FLOAT, a
//! FLOAT with a fraction as INT, a decimal that needs more digits, a timestamp that is not
//! midnight as DATE) is an error saying why. The one documented exception is DECIMAL → FLOAT,
//! which takes the nearest double, as SQL's CAST does.

use super::types::{Decimal, Type, Value};

/// Microseconds in a day.
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Integers with an absolute value up to 2^53 are exact as doubles.
const F64_EXACT_INT: i64 = 1 << 53;

/// Whether some values of type `from` can be converted to `to` (the rest may still fail).
pub fn convertible(from: &Type, to: &Type) -> bool {
    use Type::*;
    if from == to {
        return true;
    }
    matches!(
        (from, to),
        (_, Text)
            | (Text, _)
            | (Bool, Int)
            | (Int, Bool | Float | Decimal { .. })
            | (Float, Int | Decimal { .. })
            | (Decimal { .. }, Int | Float | Decimal { .. })
            | (Date, Timestamp { .. })
            | (Timestamp { .. }, Date | Timestamp { .. })
    )
}

/// Converts a value to column type `to`, exactly; NULL stays NULL.
///
/// The error says why the value does not fit (it does not name the column: callers add that).
pub fn convert_value(value: &Value, to: &Type) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if value.check_type(to).is_ok() {
        return Ok(value.clone());
    }
    let refuse = |why: &str| {
        Err(format!(
            "{} {} cannot be converted to {to}{}{why}",
            value.kind_name(),
            shown(value),
            if why.is_empty() { "" } else { ": " }
        ))
    };
    let out = match (value, to) {
        (Value::Text(s), Type::Bytes) => Value::Bytes(s.as_bytes().to_vec()),
        (Value::Bytes(b), Type::Text) => match String::from_utf8(b.clone()) {
            Ok(s) => Value::Text(s),
            Err(_) => return refuse("not valid UTF-8"),
        },
        (Value::Text(s), _) => match Value::parse(to, s) {
            Ok(v) => v,
            Err(e) => return Err(e.to_string()),
        },
        (Value::Json(s), Type::Text) => Value::Text(s.clone()),
        (v, Type::Text) => Value::Text(v.render()),
        (Value::Bool(b), Type::Int) => Value::Int(i64::from(*b)),
        (Value::Int(i), Type::Bool) => match i {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return refuse("only 0 and 1 are booleans"),
        },
        (Value::Int(i), Type::Float) => {
            if i.unsigned_abs() > F64_EXACT_INT as u64 {
                return refuse("beyond 2^53 a FLOAT cannot hold it exactly");
            }
            Value::Float(*i as f64)
        }
        (Value::Int(i), Type::Decimal { precision, scale }) => {
            decimal(Decimal::new(i128::from(*i), 0), *precision, *scale)
                .map_or_else(|| refuse("out of range"), Ok)?
        }
        (Value::Float(f), Type::Int) => {
            if !f.is_finite() || f.fract() != 0.0 || f.abs() > F64_EXACT_INT as f64 {
                return refuse("not a whole number INT can hold exactly");
            }
            Value::Int(*f as i64)
        }
        (Value::Float(f), Type::Decimal { .. }) => {
            if !f.is_finite() {
                return refuse("not a finite number");
            }
            match Value::parse(to, &value.render()) {
                Ok(v) => v,
                Err(e) => return Err(e.to_string()),
            }
        }
        (Value::Decimal(d), Type::Int) => match d.rescale(0).map(|d| i64::try_from(d.unscaled())) {
            Some(Ok(i)) => Value::Int(i),
            Some(Err(_)) => return refuse("out of INT range"),
            None => return refuse("it has a fraction"),
        },
        (Value::Decimal(d), Type::Float) => match d.to_string().parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => return refuse(""),
        },
        (Value::Decimal(d), Type::Decimal { precision, scale }) => {
            decimal(Some(*d), *precision, *scale)
                .map_or_else(|| refuse("it needs more digits"), Ok)?
        }
        (Value::Date(d), Type::Timestamp { with_tz }) => {
            let m = i64::from(*d) * MICROS_PER_DAY;
            if *with_tz {
                Value::TimestampTz(m)
            } else {
                Value::Timestamp(m)
            }
        }
        (Value::Timestamp(m) | Value::TimestampTz(m), Type::Date) => {
            if m.rem_euclid(MICROS_PER_DAY) != 0 {
                return refuse("not midnight");
            }
            match i32::try_from(m.div_euclid(MICROS_PER_DAY)) {
                Ok(d) => Value::Date(d),
                Err(_) => return refuse("out of DATE range"),
            }
        }
        // Zoneless and zoned timestamps share their microseconds: a zoneless time is read as UTC.
        (Value::Timestamp(m), Type::Timestamp { with_tz: true }) => Value::TimestampTz(*m),
        (Value::TimestampTz(m), Type::Timestamp { with_tz: false }) => Value::Timestamp(*m),
        _ => return refuse(""),
    };
    match out.check_type(to) {
        Ok(()) => Ok(out),
        Err(e) => Err(e),
    }
}

fn decimal(d: Option<Decimal>, precision: u8, scale: u8) -> Option<Value> {
    let d = d?.rescale(scale)?;
    d.fits(precision, scale).then_some(Value::Decimal(d))
}

fn shown(v: &Value) -> String {
    let r = v.render();
    if r.chars().count() > 40 {
        let cut: String = r.chars().take(37).collect();
        format!("'{cut}...'")
    } else {
        format!("'{r}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: Value, to: &str) -> String {
        let ty: Type = to.parse().unwrap();
        let out = convert_value(&v, &ty).unwrap_or_else(|e| panic!("{v:?} -> {to}: {e}"));
        assert!(out.check_type(&ty).is_ok());
        out.render()
    }

    fn err(v: Value, to: &str) -> String {
        convert_value(&v, &to.parse().unwrap()).unwrap_err()
    }

    #[test]
    fn exact_conversions() {
        assert_eq!(ok(Value::Int(42), "FLOAT"), "42.0");
        assert_eq!(ok(Value::Int(42), "DECIMAL(5,2)"), "42.00");
        assert_eq!(ok(Value::Int(1), "BOOL"), "true");
        assert_eq!(ok(Value::Bool(true), "INT"), "1");
        assert_eq!(ok(Value::Float(-3.0), "INT"), "-3");
        assert_eq!(ok(Value::Float(2.5), "DECIMAL(4,2)"), "2.50");
        assert_eq!(ok(Value::Text("7".into()), "INT"), "7");
        assert_eq!(ok(Value::Text("2024-02-29".into()), "DATE"), "2024-02-29");
        assert_eq!(ok(Value::Date(1), "TIMESTAMP"), "1970-01-02T00:00:00");
        assert_eq!(ok(Value::Timestamp(86_400_000_000), "DATE"), "1970-01-02");
        assert_eq!(
            ok(Value::Timestamp(5), "TIMESTAMPTZ"),
            "1970-01-01T00:00:00.000005Z"
        );
        assert_eq!(ok(Value::Text("héllo".into()), "BYTES"), "68c3a96c6c6f");
        assert_eq!(ok(Value::Bytes(b"hi".to_vec()), "TEXT"), "hi");
        assert_eq!(ok(Value::Json("{\"a\":1}".into()), "TEXT"), "{\"a\":1}");
        assert_eq!(ok(Value::Float(0.1), "TEXT"), "0.1");
        assert!(convert_value(&Value::Null, &Type::Int).unwrap().is_null());
        let d = Value::parse(&"DECIMAL(10,3)".parse().unwrap(), "12.500").unwrap();
        assert_eq!(ok(d.clone(), "DECIMAL(4,1)"), "12.5");
        assert_eq!(ok(d, "FLOAT"), "12.5");
    }

    #[test]
    fn lossy_conversions_are_refused_with_a_reason() {
        assert!(err(Value::Float(2.5), "INT").contains("whole number"));
        assert!(err(Value::Float(f64::NAN), "DECIMAL(5,2)").contains("finite"));
        assert!(err(Value::Int((1 << 53) + 1), "FLOAT").contains("2^53"));
        assert!(err(Value::Int(2), "BOOL").contains("0 and 1"));
        assert!(err(Value::Int(1000), "DECIMAL(4,2)").contains("out of range"));
        let d = Value::parse(&"DECIMAL(10,3)".parse().unwrap(), "12.345").unwrap();
        assert!(err(d.clone(), "DECIMAL(4,1)").contains("more digits"));
        assert!(err(d, "INT").contains("fraction"));
        assert!(err(Value::Timestamp(1), "DATE").contains("midnight"));
        assert!(err(Value::Bytes(vec![0xff]), "TEXT").contains("UTF-8"));
        assert!(err(Value::Text("x".into()), "INT").contains("not a valid INT"));
        assert!(err(Value::Date(3), "BOOL").contains("cannot be converted"));
        assert!(!convertible(&Type::Int, &Type::Blob));
        assert!(convertible(&Type::Blob, &Type::Text));
    }
}
