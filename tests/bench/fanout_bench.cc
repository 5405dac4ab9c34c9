// Fan-out latency of the county's regional statistic: the same aggregate
// asked of all 18 members (one deadline, in parallel) against the same
// aggregate asked of one member, through the same admin call on the same
// county node, interleaved round by round so that both see the same machine
// load. Prints p50, p90 and min of each and the ratio of the p50s.
//
// Needs a running federation (tests/bench/fanout.sh starts the 19-node demo
// federation and runs this). Not a Google Benchmark: the figure is a latency
// distribution of a remote call, not the mean time of a loop.
//
//   fanout_bench --socket RUN/06531/admin.sock --single 06531005 --rounds 200
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "proto/node/v1/admin.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Summary {
  double p50_ms = 0;
  double p90_ms = 0;
  double min_ms = 0;
};

Summary Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
  };
  return {at(0.5), at(0.9), ms.front()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"County fan-out latency: all members vs one member"};
  std::string socket, single = "06531005", purpose = "regionalstatistik";
  std::string conforms_to = "urn:fednode:schema:gemeindeverzeichnis:v1";
  std::string sql = "SELECT SUM(bevoelkerung) AS einwohner FROM gemeindeverzeichnis";
  int rounds = 200, warmup = 20;
  app.add_option("--socket", socket, "The county node's admin socket")->required();
  app.add_option("--single", single, "The member asked alone (baseline)")->capture_default_str();
  app.add_option("--rounds", rounds, "Measured rounds (each: one of each call)")
      ->capture_default_str();
  app.add_option("--warmup", warmup, "Unmeasured rounds first")->capture_default_str();
  app.add_option("--conforms-to", conforms_to)->capture_default_str();
  app.add_option("--sql", sql)->capture_default_str();
  app.add_option("--purpose", purpose)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (rounds < 1 || warmup < 0) {
    std::cerr << "fanout_bench: --rounds must be at least 1\n";
    return 2;
  }

  auto stub = fednode::node::v1::AdminService::NewStub(
      grpc::CreateChannel(absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials()));
  fednode::node::v1::AggregateFederationRequest all;
  all.set_sql(sql);
  all.set_conforms_to(conforms_to);
  all.set_purpose(purpose);
  all.set_timeout_seconds(10);
  fednode::node::v1::AggregateFederationRequest one = all;
  one.add_members(single);

  // One call; returns its latency in ms, or -1 (and prints why) on failure
  // or when the coverage is not what the call asked for.
  auto call = [&](const fednode::node::v1::AggregateFederationRequest& req,
                  bool expect_complete) -> double {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    fednode::node::v1::AggregateFederationResponse resp;
    const Clock::time_point start = Clock::now();
    grpc::Status s = stub->AggregateFederation(&ctx, req, &resp);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!s.ok()) {
      std::cerr << "fanout_bench: " << s.error_message() << "\n";
      return -1;
    }
    if (resp.partial() == expect_complete) {
      std::cerr << "fanout_bench: unexpected coverage: " << resp.coverage_line() << "\n";
      return -1;
    }
    return ms;
  };

  std::vector<double> all_ms, one_ms;
  for (int r = 0; r < warmup + rounds; ++r) {
    // Alternate the order so neither call always runs on a warmer cache.
    const bool all_first = r % 2 == 0;
    double a = all_first ? call(all, true) : -2;
    const double o = call(one, false);
    if (!all_first) a = call(all, true);
    if (a < 0 || o < 0) return 1;
    if (r >= warmup) {
      all_ms.push_back(a);
      one_ms.push_back(o);
    }
  }
  const Summary sa = Summarize(all_ms);
  const Summary so = Summarize(one_ms);
  std::printf("%-44s %9s %9s %9s\n", "call (county admin AggregateFederation)", "p50 ms", "p90 ms",
              "min ms");
  std::printf("%-44s %9.2f %9.2f %9.2f\n", absl::StrCat("one member (", single, ")").c_str(),
              so.p50_ms, so.p90_ms, so.min_ms);
  std::printf("%-44s %9.2f %9.2f %9.2f\n", "all 18 members, one deadline", sa.p50_ms, sa.p90_ms,
              sa.min_ms);
  const double ratio = sa.p50_ms / so.p50_ms;
  std::printf("ratio p50 all / one: %.2f (goal: at most 3.00) %s; %d rounds after %d warm-up\n",
              ratio, ratio <= 3.0 ? "met" : "NOT met", rounds, warmup);
  // For tests/bench/run.sh's table.
  std::printf("figure\tfanout_one_p50_ms\t%.4f\tms\n", so.p50_ms);
  std::printf("figure\tfanout_all_p50_ms\t%.4f\tms\n", sa.p50_ms);
  return 0;
}
