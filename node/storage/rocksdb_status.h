// File: rocksdb_status.h
// -----------------------------------------------------------------------------
// The one mapping from rocksdb::Status to absl::Status (STYLE.md §3).
//
// Layer: node/storage, internal (includes rocksdb/ headers; never include it
// from outside node/storage).
// Thread-safety: pure function, safe for concurrent use.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace fednode::storage {

// Maps `s` to an absl::Status with the code below and the message
// "<context>: <s.ToString()>" ("<s.ToString()>" when context is empty),
// prefixed with "disk full: " for ResourceExhausted.
//   ok                              -> OK
//   NotFound                        -> NotFound
//   Corruption                      -> DataLoss
//   InvalidArgument                 -> InvalidArgument
//   NotSupported                    -> Unimplemented
//   IOError with subcode NoSpace    -> ResourceExhausted
//   other IOError                   -> Unavailable
//   Busy                            -> Aborted
//   TimedOut                        -> DeadlineExceeded
//   TryAgain, ShutdownInProgress    -> Unavailable
//   anything else                   -> Internal
absl::Status FromRocksDbStatus(const rocksdb::Status& s, absl::string_view context = "");

}  // namespace fednode::storage
