// Package realcloud tests runnet's real-cloud path end to end: the path a user with
// Application Default Credentials takes, with no RUNNET_EMULATOR_HOST. The emulator stands in
// for Google's front door (TLS with its own CA, the token endpoints, the metadata server,
// STS and IAM Credentials, and a check of every call's credential); runnet runs as a child
// process, exactly as shipped, pointed at it only the way a user points gcloud and the
// client libraries elsewhere: SSL_CERT_FILE, GOOGLE_APPLICATION_CREDENTIALS (or
// GCE_METADATA_HOST), and the api_endpoint_overrides variables.
//
// It has tests only.
package realcloud
