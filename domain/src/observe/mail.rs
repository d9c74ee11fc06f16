//! E-mail: the installation's mail server (set by admins in Settings) and sending alert e-mails
//! through it with `lettre` (SMTP, plain, STARTTLS or TLS, with or without a login). The password is
//! sealed at rest and never shown again.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::error::{Error, Result};
use crate::Berth;

const KEY: &str = "mail";

/// How Berth reaches its mail server.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MailSettings {
    /// Empty: no mail server (e-mail alerts are refused).
    pub host: String,
    pub port: u16,
    /// `none` (plain SMTP, for a relay on the same host or network), `starttls` or `tls`.
    pub security: String,
    /// The sender address.
    pub from: String,
    /// Empty: no login.
    pub username: String,
    /// Sealed (`sealed:v1:…`); empty when there is none. Never leaves the domain.
    #[serde(default)]
    password: String,
}

/// The settings as an admin sees them: the password only as whether there is one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MailView {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub from: String,
    pub username: String,
    pub password_set: bool,
}

/// What the settings form sends; an empty password keeps the one set before (unless `clear_password`).
#[derive(Clone, Debug, Default)]
pub struct MailInput {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub from: String,
    pub username: String,
    pub password: String,
    pub clear_password: bool,
}

fn view(s: &MailSettings) -> MailView {
    MailView {
        host: s.host.clone(),
        port: s.port,
        security: s.security.clone(),
        from: s.from.clone(),
        username: s.username.clone(),
        password_set: !s.password.is_empty(),
    }
}

/// A host name or address: letters, digits, dots, dashes and (for IPv6) colons only.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && !host.starts_with(['-', '.'])
}

impl Berth {
    pub(crate) async fn mail_settings(&self) -> Result<MailSettings> {
        Ok(match self.store.setting(KEY).await? {
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
            None => MailSettings::default(),
        })
    }

    /// The mail server settings (admins).
    pub async fn mail(&self, actor: &Actor) -> Result<MailView> {
        authorize(actor, Permission::QuotaManage)?;
        Ok(view(&self.mail_settings().await?))
    }

    /// Sets the mail server (admins); an empty host turns e-mail off.
    pub async fn set_mail(&self, actor: &Actor, input: MailInput) -> Result<MailView> {
        let op = Op {
            action: "mail.update",
            permission: Permission::QuotaManage,
            target: "installation".into(),
            params: json!({
                "host": input.host, "port": input.port, "security": input.security, "from": input.from,
                "username": input.username, "password": if input.password.is_empty() { "" } else { "(set)" },
            }),
        };
        self.mutate(actor, op, |_| async move {
            let host = input.host.trim().to_string();
            let old = self.mail_settings().await?;
            let settings = if host.is_empty() {
                MailSettings::default()
            } else {
                if !valid_host(&host) {
                    return Err(Error::invalid("host", "must be a host name or an IP address"));
                }
                if input.port == 0 {
                    return Err(Error::invalid("port", "must be between 1 and 65535"));
                }
                if !["none", "starttls", "tls"].contains(&input.security.as_str()) {
                    return Err(Error::invalid("security", "must be none, starttls or tls"));
                }
                let from = input.from.trim().to_string();
                let mut from_ok = crate::observe::alerts::email_addresses(&from).map(|a| a.len() == 1).unwrap_or(false);
                from_ok &= from.parse::<lettre::Address>().is_ok();
                if !from_ok {
                    return Err(Error::invalid("from", "must be one e-mail address"));
                }
                let username = input.username.trim().to_string();
                if username.len() > 256 || username.chars().any(char::is_control) {
                    return Err(Error::invalid("username", "must be at most 256 printable characters"));
                }
                let password = if input.clear_password || username.is_empty() {
                    String::new()
                } else if input.password.is_empty() {
                    old.password
                } else {
                    self.sealer()?.seal(input.password.as_bytes())?
                };
                MailSettings { host, port: input.port, security: input.security, from, username, password }
            };
            self.store.setting_put(KEY, &serde_json::to_string(&settings)?).await?;
            Ok(view(&settings))
        })
        .await
    }

    /// Sends a test e-mail to `to` through the mail server (admins), so a wrong setting shows now
    /// rather than when an alert fires.
    pub async fn mail_test(&self, actor: &Actor, to: &str) -> Result<()> {
        let op = Op {
            action: "mail.test",
            permission: Permission::QuotaManage,
            target: "installation".into(),
            params: json!({ "to": to }),
        };
        self.mutate(actor, op, |_| async move {
            let to = crate::observe::alerts::email_addresses(to).map_err(|e| match e {
                Error::Invalid { message, .. } => Error::invalid("to", message),
                other => other,
            })?;
            self.send_mail(&to, "Berth: test e-mail", "Berth can send e-mail alerts through this server.")
                .await
                .map_err(|e| Error::invalid("to", e))
        })
        .await
    }

    /// Sends a plain-text e-mail; the error says what went wrong in words.
    pub(crate) async fn send_mail(&self, to: &[String], subject: &str, body: &str) -> std::result::Result<(), String> {
        let s = self.mail_settings().await.map_err(|e| e.to_string())?;
        if s.host.is_empty() {
            return Err("no mail server is set up (Settings)".into());
        }
        let password = if s.password.is_empty() {
            String::new()
        } else {
            let plain = self.sealer().and_then(|k| k.unseal(&s.password)).map_err(|e| e.to_string())?;
            String::from_utf8(plain).map_err(|_| "the stored password is not text".to_string())?
        };
        let mut message = Message::builder()
            .from(s.from.parse().map_err(|e| format!("sender {}: {e}", s.from))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            message = message.to(address.parse().map_err(|e| format!("{address}: {e}"))?);
        }
        let message = message.body(body.to_string()).map_err(|e| e.to_string())?;
        let builder = match s.security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host).map_err(|e| e.to_string())?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        };
        let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(15)));
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), password));
        }
        let mailer = builder.build();
        mailer.send(message).await.map(|_| ()).map_err(|e| format!("{}:{}: {e}", s.host, s.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_an_allow_list() {
        for ok in ["mail.example.com", "127.0.0.1", "::1", "smtp-relay"] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "a@b", "x\r\nRCPT", "host:25/x", "ä.example"] {
            assert!(!valid_host(bad), "{bad:?}");
        }
    }
}
