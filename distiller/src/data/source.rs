//! Where a dataset comes from: a folder, or the synthetic generator with parameters.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::{DataError, SyntheticConfig};

/// A dataset folder, or `synthetic[:key=value,...]` (a contextual stochastic block model).
///
/// Parses from and displays as text, and (de)serialises as that text:
/// `synthetic:nodes=3000,classes=5,features=200,degree=8,homophily=0.8,seed=0`.
///
/// ```
/// use frameless_distiller::data::DatasetSource;
/// let s: DatasetSource = "synthetic:nodes=500,homophily=0.2".parse()?;
/// assert!(s.to_string().starts_with("synthetic:nodes=500,"));
/// let p: DatasetSource = "../shared/datasets/cora".parse()?;
/// assert_eq!(p.to_string(), "../shared/datasets/cora");
/// # Ok::<(), frameless_distiller::data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSource {
    /// A folder in the plain or geom-gcn format.
    Path(PathBuf),
    /// The synthetic generator.
    Synthetic(SyntheticConfig),
}

impl fmt::Display for DatasetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Synthetic(c) => write!(
                f,
                "synthetic:nodes={},classes={},features={},degree={},homophily={},seed={}",
                c.nodes, c.classes, c.features, c.degree, c.homophily, c.seed
            ),
        }
    }
}

impl FromStr for DatasetSource {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self, DataError> {
        let bad = |reason: String| DataError::BadSource {
            text: text.to_string(),
            reason,
        };
        let rest = match text.strip_prefix("synthetic") {
            Some("") => return Ok(Self::Synthetic(SyntheticConfig::default())),
            Some(rest) if rest.starts_with(':') => &rest[1..],
            _ if text.is_empty() => return Err(bad("empty".into())),
            _ => return Ok(Self::Path(PathBuf::from(text))),
        };
        let mut config = SyntheticConfig::default();
        for item in rest.split(',').filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("{item:?} is not key=value")))?;
            let int = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("{key}={v} is not a non-negative integer")))
            };
            let real = |v: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(format!("{key}={v} is not a number")))
            };
            match key {
                "nodes" => config.nodes = int(value)? as usize,
                "classes" => config.classes = int(value)? as usize,
                "features" => config.features = int(value)? as usize,
                "degree" => config.degree = real(value)?,
                "homophily" => config.homophily = real(value)?,
                "seed" => config.seed = int(value)?,
                _ => {
                    return Err(bad(format!(
                        "unknown key {key:?} (nodes, classes, features, degree, homophily, seed)"
                    )))
                }
            }
        }
        config.validate().map_err(bad)?;
        Ok(Self::Synthetic(config))
    }
}

impl serde::Serialize for DatasetSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for DatasetSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_round_trips() {
        let s: DatasetSource = "synthetic:nodes=100,classes=4,seed=3".parse().unwrap();
        let again: DatasetSource = s.to_string().parse().unwrap();
        assert_eq!(s, again);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<DatasetSource>(&json).unwrap(), s);
    }

    #[test]
    fn bad_synthetic_keys_are_errors() {
        for text in [
            "synthetic:nodes=x",
            "synthetic:colour=3",
            "synthetic:homophily=1.5",
            "synthetic:classes=0",
            "synthetic:nodes",
        ] {
            assert!(text.parse::<DatasetSource>().is_err(), "{text}");
        }
        assert!("".parse::<DatasetSource>().is_err());
    }
}
