//! Root credentials: from `IGNIS_ACCESS_KEY_ID` / `IGNIS_SECRET_ACCESS_KEY` when given,
//! otherwise generated on first start and kept (mode 0600) in the data directory.

use crate::ServerError;
use crate::data_dir::{DataDir, write_private};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

impl Credentials {
    /// A fresh key pair shaped like AWS's (`AKIA` + 16, 40-character secret).
    pub fn generate() -> Credentials {
        Credentials {
            access_key_id: format!(
                "AKIA{}",
                random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
            secret_access_key: random_from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                40,
            ),
        }
    }

    /// Reads the stored credentials of a data directory, if any.
    pub fn load(path: &Path) -> Result<Option<Credentials>, ServerError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ServerError::Credentials(format!("{} is unreadable: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ServerError::DataDir {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// For `ignis env`: `IGNIS_ACCESS_KEY_ID`/`IGNIS_SECRET_ACCESS_KEY` when set, otherwise
    /// the credentials stored in the data directory (read without taking the node's lock).
    pub fn from_env_or_data_dir(data_dir: &Path) -> Result<Credentials, ServerError> {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        if let (Some(access_key_id), Some(secret_access_key)) =
            (var("IGNIS_ACCESS_KEY_ID"), var("IGNIS_SECRET_ACCESS_KEY"))
        {
            return Ok(Credentials {
                access_key_id,
                secret_access_key,
            });
        }
        Credentials::load(&data_dir.join("credentials"))?.ok_or_else(|| {
            ServerError::Credentials(format!(
                "no credentials in {}: start `ignis up` once, or set IGNIS_ACCESS_KEY_ID and IGNIS_SECRET_ACCESS_KEY",
                data_dir.display()
            ))
        })
    }

    /// Given credentials win; else stored ones; else new ones are generated, stored and printed.
    pub fn resolve(
        data: &DataDir,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    ) -> Result<Credentials, ServerError> {
        match (access_key_id, secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => {
                return Ok(Credentials {
                    access_key_id,
                    secret_access_key,
                });
            }
            (None, None) => {}
            _ => {
                return Err(ServerError::Credentials(
                    "set both IGNIS_ACCESS_KEY_ID and IGNIS_SECRET_ACCESS_KEY, or neither".into(),
                ));
            }
        }
        let path = data.credentials_file();
        if let Some(c) = Credentials::load(&path)? {
            return Ok(c);
        }
        let c = Credentials::generate();
        let json = serde_json::to_vec_pretty(&c).expect("credentials serialise");
        write_private(&path, &json).map_err(|source| ServerError::DataDir {
            path: path.clone(),
            source,
        })?;
        println!(
            "Generated root credentials (stored in {}; shown once):\n  AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}\nRun `eval \"$(ignis env)\"` to point the AWS CLI and SDKs at this node.",
            path.display(),
            c.access_key_id,
            c.secret_access_key
        );
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_stored_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let first = Credentials::resolve(&data, None, None).unwrap();
        assert!(first.access_key_id.starts_with("AKIA") && first.access_key_id.len() == 20);
        assert_eq!(first.secret_access_key.len(), 40);
        let mode = std::fs::metadata(data.credentials_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(Credentials::resolve(&data, None, None).unwrap(), first);
        let given = Credentials::resolve(&data, Some("A".into()), Some("B".into())).unwrap();
        assert_eq!(given.access_key_id, "A");
        assert!(Credentials::resolve(&data, Some("A".into()), None).is_err());
    }
}
