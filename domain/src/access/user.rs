//! Users: the accounts people sign in with.

use crate::error::{Checks, Error, Result};
use crate::store::UserRow;

pub use crate::authz::Role;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

impl User {
    /// `None` when the row names a role this build does not know: such a user cannot act.
    pub(crate) fn from_row(row: UserRow) -> Option<User> {
        Some(User {
            id: row.id,
            role: Role::parse(&row.role)?,
            username: row.username,
            display_name: row.display_name,
            disabled: row.disabled != 0,
            created_at: row.created_at,
        })
    }
}

pub const USERNAME_MAX: usize = 64;
pub const DISPLAY_NAME_MAX: usize = 128;

/// The canonical form of a username: trimmed and lower-case, 1–64 characters of `a-z 0-9 . _ -`,
/// starting with a letter or digit.
pub fn normalize_username(raw: &str) -> Result<String> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() {
        return Err(Error::invalid("username", "is required"));
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(Error::invalid("username", format!("must be at most {USERNAME_MAX} characters")));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid("username", "must start with a letter or digit"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(Error::invalid("username", format!("may not contain {bad:?}; use a-z, 0-9, '.', '_' or '-'")));
    }
    Ok(name)
}

/// A display name, or the username when none is given.
pub fn normalize_display_name(raw: &str, username: &str) -> Result<String> {
    let name = raw.trim();
    if name.chars().count() > DISPLAY_NAME_MAX {
        return Err(Error::invalid("display_name", format!("must be at most {DISPLAY_NAME_MAX} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid("display_name", "may not contain control characters"));
    }
    Ok(if name.is_empty() { username.to_string() } else { name.to_string() })
}

/// A new account as a person typed it in a form.
#[derive(Clone, Debug, Default)]
pub struct AccountInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub confirm_password: String,
}

/// A checked [`AccountInput`]: canonical names and an acceptable password.
#[derive(Clone, Debug)]
pub struct ValidAccount {
    pub username: String,
    pub display_name: String,
}

impl AccountInput {
    /// Checks every field, naming each that is wrong.
    pub fn validate(&self) -> Result<ValidAccount> {
        let mut checks = Checks::default();
        let username = checks.field(normalize_username(&self.username));
        let display_name =
            checks.field(normalize_display_name(&self.display_name, username.as_deref().unwrap_or_default()));
        checks.field(crate::access::password::check_new(&self.password));
        if self.password != self.confirm_password {
            checks.invalid("confirm_password", "does not match the password");
        }
        let (username, display_name) = checks.done(username.zip(display_name))?;
        Ok(ValidAccount { username, display_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("admin", Ok("admin")),
            ("  Alice.Ops ", Ok("alice.ops")),
            ("ops-team_2", Ok("ops-team_2")),
            ("", Err("is required")),
            ("   ", Err("is required")),
            ("-lead", Err("must start with a letter or digit")),
            ("a b", Err("may not contain ' '")),
            ("root@x", Err("may not contain '@'")),
            ("zoë", Err("may not contain 'ë'")),
        ];
        for (raw, expected) in cases {
            match (normalize_username(raw), expected) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want),
                (Err(Error::Invalid { field, message }), Err(want)) => {
                    assert_eq!(field, "username");
                    assert!(message.contains(want), "{raw:?}: {message}");
                }
                (got, want) => panic!("{raw:?}: got {got:?}, want {want:?}"),
            }
        }
        assert!(normalize_username(&"a".repeat(USERNAME_MAX)).is_ok());
        assert!(normalize_username(&"a".repeat(USERNAME_MAX + 1)).is_err());
    }

    #[test]
    fn account_input_names_the_first_bad_field() {
        let good = AccountInput {
            username: "Ann".into(),
            display_name: "".into(),
            password: "a long enough pw".into(),
            confirm_password: "a long enough pw".into(),
        };
        let ok = good.validate().unwrap();
        assert_eq!((ok.username.as_str(), ok.display_name.as_str()), ("ann", "ann"));
        let cases = [
            (AccountInput { username: "".into(), ..good.clone() }, "username"),
            (AccountInput { display_name: "x\u{0}".into(), ..good.clone() }, "display_name"),
            (AccountInput { password: "short".into(), confirm_password: "short".into(), ..good.clone() }, "password"),
            (AccountInput { confirm_password: "something else".into(), ..good.clone() }, "confirm_password"),
        ];
        for (input, field) in cases {
            match input.validate() {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(normalize_display_name("  ", "ann").unwrap(), "ann");
        assert_eq!(normalize_display_name(" Ann Lee ", "ann").unwrap(), "Ann Lee");
        assert!(normalize_display_name("a\u{7}b", "ann").is_err());
    }
}
