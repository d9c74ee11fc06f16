//! Signing in and out, the signed-in user, and creating the first admin from the setup link.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The signed-in user, as the top bar shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub admin: bool,
}

/// What a setup link is good for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupState {
    /// Usable until this Unix millisecond.
    Valid {
        expires_at: i64,
    },
    Expired,
    Used,
    /// Not a valid link (or replaced by a newer one), while no admin exists yet.
    Unknown,
    /// An admin exists; setup is over.
    Done,
}

#[server(endpoint = "get_current_user", output = crate::codec::Wire)]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let user = berth.current_user(&actor).await.map_err(wire)?;
    Ok(user.map(|u| CurrentUser {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        role: u.role.as_str().to_string(),
        admin: u.role == domain::user::Role::Admin,
    }))
}

#[server(endpoint = "sign_in", output = crate::codec::Wire)]
pub async fn sign_in(username: String, password: String) -> Result<(), AppError> {
    use super::ssr::{context, session, start_session, wire};
    let (berth, actor) = context()?;
    let user = berth.sign_in(&actor, &username, &password).await.map_err(wire)?;
    start_session(&session()?, user.id).await
}

#[server(endpoint = "sign_out", output = crate::codec::Wire)]
pub async fn sign_out() -> Result<(), AppError> {
    use super::ssr::{context, end_session, session, wire};
    let (berth, actor) = context()?;
    let recorded = berth.sign_out(&actor).await.map_err(wire);
    // End the session even when the history could not say who it was.
    end_session(&session()?).await?;
    recorded
}

/// The state of a setup link; with an empty token, `Done` once an admin exists and `Unknown` before.
#[server(endpoint = "get_setup_state", output = crate::codec::Wire)]
pub async fn get_setup_state(token: String) -> Result<SetupState, AppError> {
    use super::ssr::{berth, wire};
    use domain::bootstrap::BootstrapState as S;
    let state = berth()?.bootstrap_state(&token).await.map_err(wire)?;
    Ok(match state {
        S::Valid { expires_at } => SetupState::Valid { expires_at },
        S::Expired => SetupState::Expired,
        S::Used => SetupState::Used,
        S::Unknown => SetupState::Unknown,
        S::Done => SetupState::Done,
    })
}

/// Creates the first admin with the setup link's token and signs them in.
#[server(endpoint = "create_first_admin", output = crate::codec::Wire)]
pub async fn create_first_admin(
    token: String,
    username: String,
    display_name: String,
    password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use super::ssr::{context, session, start_session, wire};
    let (berth, actor) = context()?;
    let input = domain::user::AccountInput { username, display_name, password, confirm_password };
    let user = berth.bootstrap_admin(&actor, &token, &input).await.map_err(wire)?;
    start_session(&session()?, user.id).await
}
