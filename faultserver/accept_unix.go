package faultserver

import "syscall"

// temporaryAcceptErrors are accept(2) errors after which the listener still works.
var temporaryAcceptErrors = []error{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
	syscall.ECONNABORTED, syscall.EINTR,
}
