/**
 * A name every controller certificate holds: an agent that reaches the controller by IP address
 * checks the certificate against it (TLS cannot name a server by address; the CA is this
 * controller's own, so whatever it signed is this controller).
 */
export const CONTROLLER_TLS_NAME = "drover-controller";
