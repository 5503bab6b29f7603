//! Object keys: `{organization_id}/{export_request_id}/{file_name}`, and nothing else.

use std::fmt;

use uuid::Uuid;

/// A key that is safe as an S3 key and as a relative path under the bucket directory: three
/// segments, the last of ASCII letters, digits, `.`, `-` and `_`, not starting with a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn new(organization_id: Uuid, export_request_id: Uuid, file_name: &str) -> Option<ObjectKey> {
        valid_file_name(file_name)
            .then(|| ObjectKey(format!("{organization_id}/{export_request_id}/{file_name}")))
    }

    /// Where attempt `attempt` of an export writes its file: each attempt its own key, so an
    /// attempt that lost its claim never overwrites or deletes the file of the one that replaced it.
    pub fn export_file(
        organization_id: Uuid,
        export_request_id: Uuid,
        attempt: i32,
        extension: &str,
    ) -> ObjectKey {
        ObjectKey::new(
            organization_id,
            export_request_id,
            &format!("export-{attempt}.{extension}"),
        )
        .expect("export-<n>.<extension> is a valid file name")
    }

    /// Parses a key that came from outside (a URL, the database).
    pub fn parse(text: &str) -> Option<ObjectKey> {
        let mut segments = text.split('/');
        let (org, id, file) = (segments.next()?, segments.next()?, segments.next()?);
        if segments.next().is_some() {
            return None;
        }
        let org = Uuid::parse_str(org).ok().filter(|u| u.to_string() == org)?;
        let id = Uuid::parse_str(id).ok().filter(|u| u.to_string() == id)?;
        ObjectKey::new(org, id, file)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The organisation the object belongs to.
    pub fn organization_id(&self) -> Uuid {
        Uuid::parse_str(&self.0[..36]).expect("validated at construction")
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_three_safe_segments() {
        let (org, id) = (Uuid::new_v4(), Uuid::new_v4());
        let key = ObjectKey::new(org, id, "export.csv").unwrap();
        assert_eq!(key.as_str(), format!("{org}/{id}/export.csv"));
        assert_eq!(ObjectKey::parse(key.as_str()), Some(key.clone()));
        assert_eq!(key.organization_id(), org);
        for bad in ["../x.csv", ".hidden", "a/b", "", "naïve.csv", "x y.csv", "a\\b"] {
            assert_eq!(ObjectKey::new(org, id, bad), None, "{bad:?}");
        }
        for bad in [
            format!("{org}/{id}/../../etc/passwd"),
            format!("{org}/{id}"),
            format!("../{id}/x.csv"),
            format!("{org}/{id}/x.csv/"),
            format!("{}/{id}/x.csv", org.to_string().to_uppercase()),
        ] {
            assert_eq!(ObjectKey::parse(&bad), None, "{bad:?}");
        }
    }
}
