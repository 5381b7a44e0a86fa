//! Every text the API sends, in the seed's Spanish and in English.

use domain::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    pub es: &'static str,
    pub en: &'static str,
}

impl Msg {
    pub fn get(self, lang: Lang) -> &'static str {
        lang.pick(self.es, self.en)
    }
}

macro_rules! messages {
    ($($name:ident => $es:literal, $en:literal;)+) => {
        $(pub const $name: Msg = Msg { es: $es, en: $en };)+
    };
}

messages! {
    NOT_FOUND => "No encontrado.", "Not found.";
    ORIGIN_NOT_ALLOWED => "Origen no permitido.", "Origin not allowed.";
    CORS_METHOD_NOT_ALLOWED => "Método no permitido para peticiones de otro origen.", "Method not allowed for cross-origin requests.";
    CORS_HEADERS_NOT_ALLOWED => "Una de las cabeceras pedidas no está permitida para peticiones de otro origen.", "One of the requested headers is not allowed for cross-origin requests.";
    CORS_BAD_PREFLIGHT => "Petición de verificación previa (preflight) mal formada.", "Malformed preflight request.";
    PAYLOAD_TOO_LARGE => "El cuerpo de la petición es demasiado grande.", "Request body is too large.";
    UNSUPPORTED_MEDIA_TYPE => "Tipo de contenido no soportado; use application/json.", "Unsupported media type; use application/json.";
    MALFORMED_JSON => "JSON mal formado", "JSON parse error";
    INVALID_BODY => "Datos no válidos", "Invalid data";
    INVALID_QUERY => "Parámetros de consulta no válidos", "Invalid query parameters";
    INTERNAL => "Error interno del servidor.", "Internal server error.";
    NOT_AUTHENTICATED => "Las credenciales de autenticación no se proveyeron.", "Authentication credentials were not provided.";
    INVALID_TOKEN => "Token inválido.", "Invalid token.";
    PERMISSION_DENIED => "Usted no tiene permiso para realizar esta acción.", "You do not have permission to perform this action.";
    CSRF_FAILED => "Falló la verificación CSRF", "CSRF Failed";
    CSRF_COOKIE_MISSING => "no se ha establecido la cookie CSRF.", "CSRF cookie not set.";
    CSRF_TOKEN_MISSING => "falta el token CSRF.", "CSRF token missing.";
    CSRF_ORIGIN => "el origen de la petición no es de confianza.", "Origin checking failed: the origin is not trusted.";
    CSRF_TOKEN_INCORRECT => "el token CSRF es incorrecto.", "CSRF token incorrect.";
    INVALID_CREDENTIALS => "Correo electrónico o contraseña no válidos.", "Invalid email or password.";
    TOO_MANY_REQUESTS => "Demasiadas peticiones; inténtelo más tarde.", "Request was throttled; try again later.";
    FIELD_REQUIRED => "Este campo es obligatorio.", "This field is required.";
    INVALID_EMAIL => "Introduzca una dirección de correo electrónico válida.", "Enter a valid email address.";
    INVALID_PAGE => "Página inválida.", "Invalid page.";
    ITEMS_EMPTY => "El pedido no tiene artículos.", "The order has no items.";
    NOT_A_STRING => "No es una cadena válida.", "Not a valid string.";
    QUANTITY_RANGE => "La cantidad debe estar entre 1 y 1000.", "Quantity must be between 1 and 1000.";
    TOO_MANY_LINES => "Un pedido admite como máximo 50 productos.", "An order holds at most 50 products.";
    UNKNOWN_PRODUCT => "Producto no encontrado.", "Product not found.";
    INSUFFICIENT_STOCK => "Stock insuficiente.", "Insufficient stock.";
    INVALID_COUPON => "El cupón no es válido.", "The coupon is not valid.";
    MIXED_CURRENCIES => "Todos los productos de un pedido deben tener la misma moneda.", "All products of an order must share one currency.";
    STRIPE_UNAVAILABLE => "Stripe no está disponible; inténtelo más tarde.", "Stripe is unavailable; try again later.";
    STRIPE_REFUSED => "Stripe rechazó la petición.", "Stripe refused the request.";
    DATABASE_UNAVAILABLE => "La base de datos no está disponible.", "The database is unavailable.";
    QUEUE_UNAVAILABLE => "Cola de tareas no disponible", "Task queue unavailable";
    ALREADY_PAID => "El pago ya se completó en Stripe.", "The payment was already completed in Stripe.";
    ALREADY_REFUNDED => "El pago ya fue reembolsado.", "The payment was already refunded.";
    CANNOT_CANCEL => "El pago no se puede cancelar en su estado actual.", "The payment cannot be cancelled in its current status.";
    PAYMENT_CANCELLED => "Pago cancelado exitosamente", "Payment cancelled successfully";
    PAYMENT_ALREADY_CANCELLED => "El pago ya estaba cancelado", "Payment was already cancelled";
    STRIPE_WARNING => "Cancelado localmente; no se pudo contactar con Stripe y la sesión se expirará más tarde.", "Cancelled locally; Stripe could not be reached and the session will be expired later.";
    IDEMPOTENCY_MISMATCH => "La clave de idempotencia ya se usó con otra petición.", "The idempotency key was already used with a different request.";
    IDEMPOTENCY_IN_PROGRESS => "Una petición con esta clave de idempotencia sigue en curso.", "A request with this idempotency key is still in progress.";
    IDEMPOTENCY_KEY_INVALID => "La clave de idempotencia debe tener entre 1 y 255 caracteres visibles.", "The idempotency key must be 1 to 255 visible characters.";
    CLEANUP_STARTED => "Limpieza de sesiones expiradas iniciada", "Expired session cleanup started";
    TASK_NOT_FOUND => "Tarea no encontrada.", "Task not found.";
    TASK_PENDING => "Tarea pendiente", "Task pending";
    TASK_STARTED => "Tarea en progreso", "Task in progress";
    TASK_RETRY => "Tarea en reintento", "Task being retried";
    TASK_SUCCESS => "Tarea completada exitosamente", "Task completed successfully";
    TASK_SUCCESS_WITH_ERRORS => "Tarea completada con errores", "Task completed with errors";
    TASK_FAILURE => "La tarea falló", "Task failed";
    SYNC_EXPIRED => "La sesión ha expirado y se está procesando la cancelación", "The session has expired and the cancellation is being processed";
    SYNC_COMPLETED => "El pago se completó en Stripe y se ha registrado", "The payment was completed in Stripe and has been recorded";
    SYNC_REFUNDED => "El pago llegó después de la cancelación y se ha reembolsado", "The payment arrived after the cancellation and has been refunded";
    SYNC_OPEN => "La sesión de Stripe sigue abierta", "The Stripe session is still open";
    SYNC_UNCHANGED => "El estado del pago ya coincide con Stripe", "The payment status already matches Stripe";
    SYNC_NO_SESSION => "El pago no tiene sesión de Stripe", "The payment has no Stripe session";
    INVALID_PAYLOAD => "Contenido no válido", "Invalid payload";
    INVALID_SIGNATURE => "Firma no válida", "Invalid signature";
    DEBUG_CANCEL_DONE => "Cancelación completada", "Cancellation completed";
    DEBUG_CANCEL_FAILED => "La cancelación no se pudo completar", "The cancellation could not be completed";
    INVALID_UUID => "No es un UUID válido.", "Must be a valid UUID.";
    NOT_A_BOOLEAN => "Debe ser un booleano.", "Must be a valid boolean.";
}

/// "Encontrados N pagos para probar".
pub fn payments_found(lang: Lang, n: usize) -> String {
    match lang {
        Lang::Es => format!("Encontrados {n} pagos para probar"),
        Lang::En => format!("Found {n} payments to test"),
    }
}
