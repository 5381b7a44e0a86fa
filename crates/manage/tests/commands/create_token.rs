use domain::models::user::user_for_api_token;
use domain::testing::{TestDatabase, seed_user};
use domain::values::email::Email;
use manage::commands::create_token;

fn opts(email: &str) -> create_token::Opts {
    create_token::Opts {
        email: Email::parse(email).unwrap(),
    }
}

#[tokio::test]
async fn create_token_key_maps_back_to_the_user() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    let user = seed_user(&mut conn, "dee@example.com", false).await;

    let token = create_token::run(&mut conn, &opts("DEE@example.com"))
        .await
        .unwrap();

    assert_eq!(token.key.len(), 40);
    assert!(token.key.chars().all(|c| c.is_ascii_hexdigit()));
    let owner = user_for_api_token(&conn, &token.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.id, user);
}

#[tokio::test]
async fn create_token_stores_only_the_digest() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::api_tokens;

    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    seed_user(&mut conn, "eve@example.com", false).await;

    let token = create_token::run(&mut conn, &opts("eve@example.com"))
        .await
        .unwrap();

    let stored: Vec<String> = api_tokens::table
        .select(api_tokens::key_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![domain::models::user::secret_digest(&token.key)]
    );
}

#[tokio::test]
async fn create_token_for_an_unknown_email_fails_with_a_reason() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;

    let error = create_token::run(&mut conn, &opts("nobody@example.com"))
        .await
        .unwrap_err();

    assert_eq!(error.to_string(), "no user with e-mail nobody@example.com");
}
