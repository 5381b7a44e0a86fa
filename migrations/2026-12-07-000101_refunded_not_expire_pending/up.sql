-- A refunded payment's session is complete: nothing is left to expire in
-- Stripe. Refunds recorded before this fix left the flag set, and every
-- sweep reported them as `expiry_retried`.
UPDATE payments SET stripe_expire_pending = FALSE
    WHERE stripe_expire_pending AND status = 'REFUNDED';
