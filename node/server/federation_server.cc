#include "node/server/federation_server.h"

#include <pthread.h>

#include <atomic>
#include <deque>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits of a message
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"

#include "node/base/log.h"
#include "node/base/wire_buffer.h"

namespace fednode::server {
namespace {

using federation::v1::FederationService;
// Every method raw: requests are parsed here, so that one that does not
// parse is refused and audited like any other refusal (gRPC's typed API
// cancels such a call itself, unseen), and each answer is serialized once
// (SerializeToByteBuffer) instead of sized twice by gRPC's typed writer.
using AsyncFederationService = FederationService::WithRawMethod_Ping<
    FederationService::WithRawMethod_GetCatalog<FederationService::WithRawMethod_Query<
        FederationService::WithRawMethod_Aggregate<FederationService::Service>>>>;
using Outcome = FederationServiceImpl::Outcome;
using Caller = FederationServiceImpl::Caller;

// Keeps the process-wide builder plugins (server reflection, registered for
// the admin socket) off the federation port: the port then has no
// synchronous service, and no synchronous thread pool polling beside the
// completion-queue threads.
class NoPlugins final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->clear();
  }
};

// Names the calling thread (ps, top, perf), at most 15 characters.
void NameThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

class FederationServer::Impl {
 public:
  Impl(FederationServiceImpl* service, FederationServerOptions options)
      : service_(service), options_(std::move(options)) {}

  absl::Status Start();
  void Shutdown(std::chrono::system_clock::time_point deadline);

  // Hands `work` to a worker thread; false when max_queued calls wait
  // already.
  bool Offload(absl::AnyInvocable<void() &&> work) {
    absl::MutexLock lock(&mu_);
    if (queue_.size() >= static_cast<size_t>(options_.max_queued)) return false;
    queue_.push_back(std::move(work));
    return true;
  }
  int queued() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(queue_.size());
  }

  void CallCreated() {
    absl::MutexLock lock(&mu_);
    ++live_calls_;
  }
  void CallEnded() {
    absl::MutexLock lock(&mu_);
    --live_calls_;
  }

  FederationServiceImpl* service() { return service_; }
  AsyncFederationService* async_service() { return &async_service_; }
  int port() const { return port_; }

 private:
  // Accepts the first call of each method on `cq`; each call accepts the
  // next one when it arrives.
  void AcceptOn(grpc::ServerCompletionQueue* cq);
  void PollLoop(grpc::ServerCompletionQueue* cq);
  void WorkerLoop();

  FederationServiceImpl* const service_;
  const FederationServerOptions options_;
  AsyncFederationService async_service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> pollers_;
  std::vector<std::thread> workers_;
  int port_ = 0;

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  int live_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_workers_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

namespace {

// One call of any method. Reference-counted: one reference per operation
// in flight on the completion queue (the request, each write, the finish,
// the done notification) and one while a worker or the audit log holds the
// call; the last one deletes it.
class Call {
 public:
  enum class Event { kRequest, kWrite, kFinish, kDone };
  struct Tag {
    Call* call;
    Event event;
  };

  Call(FederationServer::Impl* server, grpc::ServerCompletionQueue* cq, FederationMethod method,
       const char* operation)
      : server_(server), cq_(cq), method_(method), operation_(operation) {
    server_->CallCreated();
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    io_.context = &ctx_;
    io_.cancelled = [this] { return cancelled_.load(std::memory_order_acquire); };
  }
  virtual ~Call() { server_->CallEnded(); }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Called by the completion-queue thread for each event of this call.
  void Handle(Event event, bool ok) {
    switch (event) {
      case Event::kRequest:
        if (!ok) {  // shutting down: the call never started, no other tag comes
          Unref();
          return;
        }
        Ref();  // the done notification, now pending
        received_ = absl::Now();
        Spawn();
        Start();
        Unref();  // the request
        return;
      case Event::kDone:
        // Asking IsCancelled is allowed once the done tag is delivered.
        cancelled_.store(ctx_.IsCancelled(), std::memory_order_release);
        Unref();
        return;
      case Event::kWrite:
        WriteDone(ok);
        Unref();
        return;
      case Event::kFinish:
        Unref();
        return;
    }
  }

 protected:
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Accepts the next call of this method on the same queue.
  virtual void Spawn() = 0;
  // The call arrived: authenticate, decide, answer or hand to a worker.
  virtual void Start() = 0;
  // Sends `status` as the final status (no further message).
  virtual void SendStatus(const grpc::Status& status) = 0;

  // Authenticates the caller; on refusal finishes the call and returns
  // false.
  bool Authenticate() {
    auto c = server_->service()->Authenticate(io_, operation_, &peer_);
    if (auto* refused = std::get_if<Outcome>(&c)) {
      Conclude(std::move(*refused));
      return false;
    }
    caller_ = std::get<Caller>(std::move(c));
    return true;
  }

  // Parses the request's bytes into `request`. When they are no `Message`,
  // refuses the call (INVALID_ARGUMENT, audited DENY) and returns false.
  // After Authenticate.
  template <typename Message>
  bool ParseRequest(grpc::ByteBuffer* bytes, Message* request) {
    if (grpc::SerializationTraits<Message>::Deserialize(bytes, request).ok()) return true;
    Conclude(
        server_->service()->Malformed(caller_, operation_, Message::descriptor()->full_name()));
    return false;
  }

  // Finishes the call with `o`: its audit entry first (without waiting on
  // this thread), then its status.
  void Conclude(Outcome o) {
    Ref();
    server_->service()->DeliverAsync(std::move(o), [this](grpc::Status status) {
      Finish(status);
      Unref();
    });
  }

  // Runs `work` on a worker thread, or refuses the call when too many wait.
  void RunOnWorker(absl::AnyInvocable<void() &&> work) {
    Ref();
    if (server_->Offload([this, work = std::move(work)]() mutable {
          std::move(work)();
          Unref();
        })) {
      return;
    }
    Unref();
    Conclude(server_->service()->Busy(caller_, operation_, server_->queued()));
  }

  // Records the call and sends the final status.
  void Finish(const grpc::Status& status) {
    Record(status);
    Ref();
    SendStatus(status);
  }
  void Record(const grpc::Status& status) {
    server_->service()->Record(peer_, method_, status, absl::Now() - received_);
  }

  // A write completed: wakes the worker in WriteBehind or AwaitWrite.
  void WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    write_ok_ = ok;
    write_done_ = true;
  }

  // Waits until the previous write has completed, then starts one with
  // `start` (given the write tag) and returns without waiting for it: the
  // worker builds the next message while gRPC sends this one. gRPC allows
  // one write in flight per call, and serializes the message inside
  // `start` (ServerAsyncWriter::Write), so the caller may reuse it at once.
  // False when the caller is gone (cancelled, or the previous write
  // failed). Worker threads only; AwaitWrite before the final status.
  template <typename F>
  bool WriteBehind(F start) {
    if (cancelled_.load(std::memory_order_acquire)) return false;
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&write_done_));
    if (!write_ok_) return false;
    write_done_ = false;
    Ref();
    start(&write_tag_);
    return true;
  }

  // Waits for the write in flight, if any; false when it failed.
  bool AwaitWrite() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&write_done_));
    return write_ok_;
  }

  FederationServer::Impl* const server_;
  grpc::ServerCompletionQueue* const cq_;
  const FederationMethod method_;
  const std::string operation_;
  grpc::ServerContext ctx_;
  FederationServiceImpl::CallIo io_;
  Caller caller_;
  // The caller's AGS once authenticated (metrics).
  std::string peer_ = "unauthenticated";
  absl::Time received_;
  Tag request_tag_{this, Event::kRequest};
  Tag write_tag_{this, Event::kWrite};
  Tag finish_tag_{this, Event::kFinish};
  Tag done_tag_{this, Event::kDone};

 private:
  std::atomic<int> refs_{1};  // the request
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  // No write in flight, and how the last one ended.
  bool write_done_ ABSL_GUARDED_BY(mu_) = true;
  bool write_ok_ ABSL_GUARDED_BY(mu_) = true;
};

// What a unary handler did on the completion-queue thread: answered (the
// Outcome), or left the rest to a worker thread (the task returning it).
using WorkerTask = absl::AnyInvocable<Outcome() &&>;
using Step = std::variant<Outcome, WorkerTask>;

// A unary method: Ping answers on the completion-queue thread, GetCatalog
// reads on a worker, Aggregate scans a small dataset on the queue thread
// and a larger one on a worker.
template <typename Request, typename Response>
class UnaryCall final : public Call {
 public:
  using RequestMethod = void (AsyncFederationService::*)(
      grpc::ServerContext*, grpc::ByteBuffer*, grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>*,
      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  using Handler = Step (*)(FederationServiceImpl*, const Caller&,
                           const FederationServiceImpl::CallIo&, const Request&, Response*);
  struct Method {
    FederationMethod method;
    const char* operation;
    RequestMethod request;
    Handler handler;
  };

  UnaryCall(FederationServer::Impl* server, grpc::ServerCompletionQueue* cq, const Method& m)
      : Call(server, cq, m.method, m.operation), m_(m), responder_(&ctx_) {
    (server->async_service()->*m.request)(&ctx_, &request_bytes_, &responder_, cq, cq,
                                          &request_tag_);
  }

 private:
  void Spawn() override { new UnaryCall(server_, cq_, m_); }

  void Start() override {
    if (!Authenticate() || !ParseRequest(&request_bytes_, &request_)) return;
    Step step = m_.handler(server_->service(), caller_, io_, request_, &response_);
    if (auto* answered = std::get_if<Outcome>(&step)) {
      Conclude(std::move(*answered));
      return;
    }
    RunOnWorker([this, task = std::get<WorkerTask>(std::move(step))]() mutable {
      Conclude(std::move(task)());
    });
  }

  void SendStatus(const grpc::Status& status) override {
    if (status.ok()) {
      responder_.Finish(SerializeToByteBuffer(response_), status, &finish_tag_);
    } else {
      responder_.FinishWithError(status, &finish_tag_);
    }
  }

  const Method m_;
  grpc::ByteBuffer request_bytes_;
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
};

// Query: a row query over a small dataset whose answer fits in one message
// is answered on the completion-queue thread (one WriteAndFinish once its
// audit entry is durable); everything else streams from a worker.
class QueryCall final : public Call {
 public:
  QueryCall(FederationServer::Impl* server, grpc::ServerCompletionQueue* cq)
      : Call(server, cq, FederationMethod::kQuery, "federation.Query"), writer_(&ctx_) {
    server->async_service()->RequestQuery(&ctx_, &request_bytes_, &writer_, cq, cq, &request_tag_);
  }

 private:
  void Spawn() override { new QueryCall(server_, cq_); }

  void Start() override {
    if (!Authenticate() || !ParseRequest(&request_bytes_, &request_)) return;
    FederationServiceImpl* service = server_->service();
    auto prepared = service->PrepareQuery(caller_, request_);
    if (auto* ended = std::get_if<Outcome>(&prepared)) {
      Conclude(std::move(*ended));
      return;
    }
    query_ = std::get<FederationServiceImpl::PreparedQuery>(std::move(prepared));
    if (FederationServiceImpl::RunsInline(query_)) {
      federation::v1::QueryResponse answer;
      std::optional<Outcome> o = service->AnswerInline(query_, io_, &answer);
      if (o.has_value()) {
        const bool ok = o->status.ok();
        if (!ok) {
          Conclude(*std::move(o));
          return;
        }
        // The whole answer in one message, after its audit entry.
        Ref();
        service->DeliverAsync(
            *std::move(o), [this, answer = std::move(answer)](grpc::Status status) mutable {
              if (status.ok()) {
                Record(status);
                Ref();
                writer_.WriteAndFinish(SerializeToByteBuffer(answer), grpc::WriteOptions(), status,
                                       &finish_tag_);
              } else {
                Finish(status);
              }
              Unref();
            });
        return;
      }
    }
    RunOnWorker([this] {
      grpc::Status status = server_->service()->StreamQuery(
          query_, io_, [this](const federation::v1::QueryResponse& m) {
            return WriteBehind([&](void* tag) { writer_.Write(SerializeToByteBuffer(m), tag); });
          });
      // The last message may still be in flight; the final status follows
      // it (its failure means the caller is gone: the status reaches no one).
      AwaitWrite();
      Finish(status);
    });
  }

  void SendStatus(const grpc::Status& status) override { writer_.Finish(status, &finish_tag_); }

  grpc::ByteBuffer request_bytes_;
  federation::v1::QueryRequest request_;
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_;
  FederationServiceImpl::PreparedQuery query_;
};

using PingCall = UnaryCall<federation::v1::PingRequest, federation::v1::PingResponse>;
using CatalogCall =
    UnaryCall<federation::v1::GetCatalogRequest, federation::v1::GetCatalogResponse>;
using AggregateCall =
    UnaryCall<federation::v1::AggregateRequest, federation::v1::AggregateResponse>;

const PingCall::Method kPing{
    FederationMethod::kPing, "federation.Ping", &AsyncFederationService::RequestPing,
    [](FederationServiceImpl* s, const Caller& c, const FederationServiceImpl::CallIo&,
       const federation::v1::PingRequest&,
       federation::v1::PingResponse* r) -> Step { return s->Ping(c, r); }};
const CatalogCall::Method kGetCatalog{
    FederationMethod::kGetCatalog, "federation.GetCatalog",
    &AsyncFederationService::RequestGetCatalog,
    [](FederationServiceImpl* s, const Caller& c, const FederationServiceImpl::CallIo&,
       const federation::v1::GetCatalogRequest& q, federation::v1::GetCatalogResponse* r) -> Step {
      return WorkerTask([s, &c, &q, r] { return s->GetCatalog(c, q, r); });
    }};
const AggregateCall::Method kAggregate{
    FederationMethod::kAggregate, "federation.Aggregate", &AsyncFederationService::RequestAggregate,
    [](FederationServiceImpl* s, const Caller& c, const FederationServiceImpl::CallIo& io,
       const federation::v1::AggregateRequest& q, federation::v1::AggregateResponse* r) -> Step {
      auto prepared = s->PrepareAggregate(c, q);
      if (auto* ended = std::get_if<Outcome>(&prepared)) return std::move(*ended);
      auto& a = std::get<FederationServiceImpl::PreparedAggregate>(prepared);
      if (FederationServiceImpl::RunsInline(a)) return s->RunAggregate(a, io, r);
      return WorkerTask([s, a = std::move(a), &io, r] { return s->RunAggregate(a, io, r); });
    }};

}  // namespace

absl::Status FederationServer::Impl::Start() {
  if (options_.cq_threads < 1 || options_.workers < 1 || options_.max_queued < 1) {
    return absl::InvalidArgumentError(
        "federation server: cq_threads, workers and max_queued must be at least 1");
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, options_.credentials, &port_);
  builder.RegisterService(&async_service_);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_size);
  builder.SetOption(std::make_unique<NoPlugins>());
  // The gRPC health service (grpc::EnableDefaultHealthCheckService) answers
  // on the admin socket; the federation port serves FederationService only.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  for (int i = 0; i < options_.cq_threads; ++i) cqs_.push_back(builder.AddCompletionQueue());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    for (auto& cq : cqs_) {
      cq->Shutdown();
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
      }
    }
    cqs_.clear();
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen_address));
  }
  for (auto& cq : cqs_) AcceptOn(cq.get());
  for (size_t i = 0; i < cqs_.size(); ++i) {
    pollers_.emplace_back([this, i, cq = cqs_[i].get()] {
      NameThread(absl::StrCat("fed-cq-", i));
      PollLoop(cq);
    });
  }
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this, i] {
      NameThread(absl::StrCat("fed-worker-", i));
      WorkerLoop();
    });
  }
  return absl::OkStatus();
}

void FederationServer::Impl::AcceptOn(grpc::ServerCompletionQueue* cq) {
  new PingCall(this, cq, kPing);
  new CatalogCall(this, cq, kGetCatalog);
  new AggregateCall(this, cq, kAggregate);
  new QueryCall(this, cq);
}

void FederationServer::Impl::PollLoop(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    auto* t = static_cast<Call::Tag*>(tag);
    t->call->Handle(t->event, ok);
  }
}

void FederationServer::Impl::WorkerLoop() {
  for (;;) {
    absl::AnyInvocable<void() &&> work;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stop_workers_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(work)();
  }
}

void FederationServer::Impl::Shutdown(std::chrono::system_clock::time_point deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
  }
  // No new calls; the calls in flight are cancelled at the deadline.
  server_->Shutdown(deadline);
  // Cancelled calls still end their way: a worker stops its scan at the next
  // check, an audit entry is written or fails. The queues keep running
  // until the last call is gone, and only then shut down.
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_calls_ == 0; };
    mu_.Await(absl::Condition(&idle));
    stop_workers_ = true;
  }
  for (auto& cq : cqs_) cq->Shutdown();
  for (std::thread& t : pollers_) t.join();
  for (std::thread& t : workers_) t.join();
  server_->Wait();
}

absl::StatusOr<std::unique_ptr<FederationServer>> FederationServer::Start(
    FederationServiceImpl* service, const FederationServerOptions& options) {
  auto impl = std::make_unique<Impl>(service, options);
  absl::Status started = impl->Start();
  if (!started.ok()) return started;
  return std::unique_ptr<FederationServer>(new FederationServer(std::move(impl)));
}

FederationServer::FederationServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FederationServer::~FederationServer() { Shutdown(std::chrono::system_clock::now()); }

int FederationServer::port() const { return impl_->port(); }

void FederationServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  impl_->Shutdown(deadline);
}

}  // namespace fednode::server
