//! `POST /api/payments/{id}/sync_status/`: reads the session from Stripe,
//! stores it, completes a paid payment now (refunds it, SPEC §5.5, when it
//! was already cancelled), and enqueues the cancellation of an expired one
//! (`status` ∈ expired/completed/open/unchanged/no_session).

use super::lookup::visible_payment;
use crate::auth::Authenticated;
use crate::error::{ApiError, OrApi};
use crate::messages::{self, Msg};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::PaymentStatus;
use domain::gateway::SessionStatus;
use domain::jobs::PaymentJob;
use domain::models::payment::{Payment, SessionMirror};
use domain::services::complete::CompletionAction;
use domain::services::complete_payment;
use serde::Serialize;
use utoipa::ToSchema;

/// What a sync found and did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncBody {
    /// `expired`, `completed`, `open`, `unchanged` or `no_session`.
    #[schema(example = "expired")]
    pub status: &'static str,
    #[schema(example = "La sesión ha expirado y se está procesando la cancelación")]
    pub message: &'static str,
    /// The payment's status after the sync.
    #[schema(example = "PENDING")]
    pub payment_status: &'static str,
    /// The session's status in Stripe.
    #[schema(example = "expired")]
    pub stripe_status: Option<String>,
    /// The enqueued cancellation (status `expired` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

fn answer(
    status: &'static str,
    msg: Msg,
    auth: &Authenticated,
    payment: &'static str,
    stripe: Option<&str>,
) -> SyncBody {
    SyncBody {
        status,
        message: msg.get(auth.lang),
        payment_status: payment,
        stripe_status: stripe.map(str::to_owned),
        task_id: None,
    }
}

#[utoipa::path(post, path = "/api/payments/{id}/sync_status/", tag = "payments",
    params(("id" = String, Path, description = "Payment UUID")),
    responses((status = 200, description = "What Stripe says and what was done", body = SyncBody),
              (status = 404, description = "Unknown, malformed or someone else's payment"),
              (status = 503, description = "Stripe or the task queue unavailable")))]
pub async fn post_sync_status(
    auth: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let payment = {
        let mut conn = state.pool.get().await.or_api(lang)?;
        visible_payment(&mut conn, &id, &auth).await?.payment
    };
    let Some(session_id) = payment.stripe_session_id.clone() else {
        let body = answer(
            "no_session",
            messages::SYNC_NO_SESSION,
            &auth,
            payment.status.as_str(),
            None,
        );
        return Ok(HttpResponse::Ok().json(body));
    };
    let session = state
        .gateway
        .retrieve_checkout_session(&session_id)
        .await
        .or_api(lang)?;
    // Taken only now: no connection is held while Stripe answers.
    let mut conn = state.pool.get().await.or_api(lang)?;
    Payment::store_mirror(&conn, payment.id, &SessionMirror::from(&session))
        .await
        .or_api(lang)?;
    let stripe_status = Some(session.status.as_str());
    let actor = auth.actor_for(payment.user_id);
    let open = payment.status.is_open();
    // Money for a cancelled payment goes back now, not at the next sweep.
    let paid_late = payment.status == PaymentStatus::Cancelled;
    let body = if session.is_paid() && (open || paid_late) {
        let outcome = complete_payment(&mut conn, state.gateway.as_ref(), &session, &actor)
            .await
            .or_api(lang)?;
        let message = match outcome.action {
            CompletionAction::RefundedLatePayment => messages::SYNC_REFUNDED,
            _ => messages::SYNC_COMPLETED,
        };
        answer(
            "completed",
            message,
            &auth,
            outcome.payment.status.as_str(),
            stripe_status,
        )
    } else if session.status == SessionStatus::Expired && open {
        let queue = state.queue.get().await.or_api(lang)?;
        let job = PaymentJob::ManualPaymentCancellation {
            payment_id: payment.id,
            actor,
        };
        let task_id = queue
            .enqueue(&mut conn, job, Some(auth.user.id), Some(payment.id))
            .await
            .or_api(lang)?;
        let mut body = answer(
            "expired",
            messages::SYNC_EXPIRED,
            &auth,
            payment.status.as_str(),
            stripe_status,
        );
        body.task_id = Some(task_id);
        body
    } else if session.status == SessionStatus::Open {
        answer(
            "open",
            messages::SYNC_OPEN,
            &auth,
            payment.status.as_str(),
            stripe_status,
        )
    } else {
        answer(
            "unchanged",
            messages::SYNC_UNCHANGED,
            &auth,
            payment.status.as_str(),
            stripe_status,
        )
    };
    Ok(HttpResponse::Ok().json(body))
}
