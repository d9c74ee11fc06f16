//! RAM in the domain on both databases: expired and revoked tokens and links are refused, grants
//! narrow what a user's requests may do, and the last admin cannot be taken away.

use domain::authz::{Actor, Principal, UserRef};
use domain::engine::Endpoint;
use domain::ram::{NewAccount, TokenInput};
use domain::store::{NewToken, Store};
use domain::{store_test, Berth, ClusterRole, Config, Error, Permission};
use sha2::{Digest, Sha256};

fn berth(store: Store) -> Berth {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut config = Config::new(Endpoint::parse("unix:///var/run/docker.sock").unwrap());
    config.data_dir = dir;
    config.hash_concurrency = 2;
    Berth::new(store, config)
}

fn admin() -> Actor {
    Actor { principal: Principal::User(UserRef::admin(1, "ada")), source: "test".into(), request_id: "r".into() }
}

async fn seed_admin(store: &Store) {
    store.bootstrap_token_replace("h", 0, i64::MAX).await.unwrap();
    let admin = domain::store::NewUser {
        username: "ada".into(),
        display_name: "Ada".into(),
        password_hash: "x".into(),
        role: "admin".into(),
        created_at: 0,
    };
    store.bootstrap_consume("h", 1, &admin).await.unwrap().unwrap();
}

async fn tokens_expire_and_scope(store: Store) {
    seed_admin(&store).await;
    let berth = berth(store.clone());
    let cluster = store
        .cluster_insert(
            &domain::cluster::NewCluster {
                name: "c1".into(),
                provider: "hosts".into(),
                status: "ready".into(),
                zones: vec![],
            },
            0,
        )
        .await
        .unwrap();
    let pw = "a sailor's knot holds fast";
    let (user, _) = berth
        .create_user(
            &admin(),
            &NewAccount {
                username: "sam".into(),
                display_name: String::new(),
                admin: false,
                password: Some(pw.into()),
            },
        )
        .await
        .unwrap();
    berth.grant(&admin(), user.id, Some(cluster), ClusterRole::ClusterAdmin).await.unwrap();
    let sam = berth
        .resolve_actor(
            Some(domain::session::SessionAuth { user_id: user.id, signed_in_at: domain::clock::now_ms() }),
            "t".into(),
            "r".into(),
        )
        .await
        .unwrap();
    assert!(domain::authz::authorize(&sam, Permission::ClusterManage(cluster)).is_ok());
    assert!(domain::authz::authorize(&sam, Permission::ClusterManage(cluster + 1)).is_err());

    // A viewer-scoped token of a cluster admin reads but does not manage.
    let input = TokenInput { name: "ci".into(), role: Some(ClusterRole::Viewer), cluster: Some(cluster), days: 1 };
    let issued = berth.create_token(&sam, &input).await.unwrap();
    let via_token = berth.resolve_token(&issued.secret, "t".into(), "r".into()).await.unwrap();
    assert!(domain::authz::authorize(&via_token, Permission::ClusterRead(cluster)).is_ok());
    assert!(matches!(
        domain::authz::authorize(&via_token, Permission::ClusterManage(cluster)),
        Err(Error::Forbidden(_))
    ));

    // An expired token is refused like an unknown one.
    let secret = "berth_expired-token-for-the-test";
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    store
        .token_insert(&NewToken {
            user_id: user.id,
            name: "old".into(),
            token_hash: hash,
            prefix: "berth_expire".into(),
            role: "viewer".into(),
            cluster_id: None,
            created_at: 0,
            expires_at: 1,
        })
        .await
        .unwrap();
    assert!(matches!(berth.resolve_token(secret, "t".into(), "r".into()).await, Err(Error::Unauthenticated)));
    assert!(matches!(berth.resolve_token("berth_unknown", "t".into(), "r".into()).await, Err(Error::Unauthenticated)));

    // Grants go with their cluster.
    store.cluster_delete(cluster).await.unwrap();
    assert!(berth.user_detail(&admin(), user.id).await.unwrap().grants.is_empty());

    // The last admin stays.
    assert!(matches!(berth.set_user_disabled(&admin(), 1, true).await, Err(Error::Conflict(_))));
    assert!(matches!(berth.delete_user(&admin(), 1).await, Err(Error::Conflict(_))));
    let other =
        Actor { principal: Principal::User(UserRef::admin(99, "root")), source: "t".into(), request_id: "r".into() };
    assert!(matches!(berth.delete_user(&other, 1).await, Err(Error::Conflict(m)) if m.contains("last admin")));
}
store_test!(tokens, tokens_expire_and_scope);
