use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, PasswordVerifier};
use domain::models::user::User;
use domain::testing::TestDatabase;
use domain::values::email::Email;
use manage::commands::create_user;

fn opts(email: &str, password: &str, staff: bool) -> create_user::Opts {
    create_user::Opts {
        email: Email::parse(email).unwrap(),
        password: password.to_owned(),
        staff,
    }
}

#[tokio::test]
async fn create_user_stores_an_argon2id_hash_that_verifies() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;

    let saved = create_user::run(&mut conn, &opts("Ana@Example.com", "s3cret-pass", true))
        .await
        .unwrap();

    assert_eq!(saved.email, "ana@example.com");
    assert!(saved.is_staff);
    let user = User::find_by_email(&mut conn, &Email::parse("ana@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let hash = PasswordHash::new(&user.password_hash).unwrap();
    assert_eq!(hash.algorithm, Algorithm::Argon2id.ident());
    assert!(
        Argon2::default()
            .verify_password(b"s3cret-pass", &hash)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"wrong-pass", &hash)
            .is_err()
    );
}

#[tokio::test]
async fn create_user_again_updates_the_same_account() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;

    let first = create_user::run(&mut conn, &opts("bo@example.com", "first-pass", false))
        .await
        .unwrap();
    let second = create_user::run(&mut conn, &opts("BO@example.com", "second-pass", true))
        .await
        .unwrap();

    assert_eq!(first.id, second.id);
    assert!(second.is_staff);
    assert_eq!((first.created, first.was_staff), (true, None));
    assert_eq!(
        (second.created, second.was_staff),
        (false, Some(false)),
        "the update and the role it changed are reported"
    );
    let user = User::find(&mut conn, domain::UserId(first.id))
        .await
        .unwrap()
        .unwrap();
    assert!(manage::password::password_matches(
        "second-pass",
        &user.password_hash
    ));
}

#[tokio::test]
async fn create_user_refuses_a_short_password_without_writing() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;

    let error = create_user::run(&mut conn, &opts("cy@example.com", "short", false))
        .await
        .unwrap_err();

    assert!(error.to_string().contains("at least 8 characters"));
    let found = User::find_by_email(&mut conn, &Email::parse("cy@example.com").unwrap())
        .await
        .unwrap();
    assert!(found.is_none());
}
