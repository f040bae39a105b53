// Package infra holds no code: it is the home of the tests of the OpenTofu/Terraform in this
// folder. The tests in `make test` (no tools needed) check that the Terraform matches the code:
// every function has its file and every environment variable its config reads, the Firestore
// indexes cover the store's queries, the log-based metrics match what the code logs. The test
// behind `make infra-check` (build tag infracheck) builds the pinned OpenTofu and Google
// provider (tools/) and runs tofu fmt, validate and test offline. See README.md.
package infra
