// TcpStore and its server. The protocol, one request after another on a connection:
//   'S' u32 key-length key u64 value-length value   set (no answer)
//   'G' u32 key-length key                          get: answered u64 length + value once set
//   'E' u32 key-length key                          erase (no answer)
// The server is one thread polling the listening socket, its clients and a pipe that wakes it
// for shutdown; a get of a missing key waits in the server, not in a loop of the client.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "meshreduce/bootstrap.h"

namespace meshreduce {
namespace {

constexpr std::uint32_t kMaxKey = 64 << 10;
constexpr std::uint64_t kMaxValue = std::uint64_t{1} << 30;

using Clock = std::chrono::steady_clock;

std::string errno_text() { return std::strerror(errno); }

bool write_all(int fd, const void* data, std::size_t bytes) {
  const auto* at = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t sent = ::send(fd, at, bytes, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    at += sent;
    bytes -= static_cast<std::size_t>(sent);
  }
  return true;
}

std::string request(char op, const std::string& key, std::string_view value = {}) {
  if (key.size() > kMaxKey) throw InvalidArgument("tcp store: a key of " + std::to_string(key.size()) + " bytes");
  if (value.size() > kMaxValue) throw InvalidArgument("tcp store: a value of " + std::to_string(value.size()) + " bytes");
  std::string bytes(1, op);
  const auto length = static_cast<std::uint32_t>(key.size());
  bytes.append(reinterpret_cast<const char*>(&length), 4).append(key);
  if (op == 'S') {
    const std::uint64_t size = value.size();
    bytes.append(reinterpret_cast<const char*>(&size), 8).append(value);
  }
  return bytes;
}

}  // namespace

// ---- server -----------------------------------------------------------------------------------

struct TcpStoreServer::Impl {
  int listener = -1;
  int wake[2] = {-1, -1};
  int port = 0;
  std::thread thread;
  std::map<std::string, std::string> values;
  std::map<int, std::string> input;                    // per client: bytes not parsed yet
  std::multimap<std::string, int> waiting;             // key -> clients waiting for it

  static bool answer(int fd, const std::string& value) {
    const std::uint64_t size = value.size();
    return write_all(fd, &size, 8) && write_all(fd, value.data(), value.size());
  }
  void drop(int fd) {
    input.erase(fd);
    for (auto it = waiting.begin(); it != waiting.end();) it = it->second == fd ? waiting.erase(it) : std::next(it);
    ::close(fd);
  }
  // Handles every whole request in the client's buffer; false when the client must go.
  bool handle(int fd) {
    std::string& bytes = input[fd];
    for (;;) {
      if (bytes.size() < 5) return true;
      std::uint32_t key_length = 0;
      std::memcpy(&key_length, bytes.data() + 1, 4);
      if (key_length > kMaxKey) return false;
      std::size_t need = 5 + key_length;
      std::uint64_t value_length = 0;
      if (bytes[0] == 'S') {
        if (bytes.size() < need + 8) return true;
        std::memcpy(&value_length, bytes.data() + need, 8);
        if (value_length > kMaxValue) return false;
        need += 8 + value_length;
      }
      if (bytes.size() < need) return true;
      const char op = bytes[0];
      std::string key = bytes.substr(5, key_length);
      if (op == 'S') {
        std::string value = bytes.substr(5 + key_length + 8, value_length);
        const auto [first, last] = waiting.equal_range(key);
        std::vector<int> ready;
        for (auto it = first; it != last; ++it) ready.push_back(it->second);
        waiting.erase(first, last);
        values[key] = value;
        for (int client : ready)
          if (!answer(client, value)) {
            if (client == fd) return false;
            drop(client);  // another client: `bytes` (this client's) stays valid
          }
      } else if (op == 'G') {
        if (auto found = values.find(key); found == values.end()) waiting.emplace(key, fd);
        else if (!answer(fd, found->second)) return false;
      } else if (op == 'E') {
        values.erase(key);
      } else {
        return false;
      }
      bytes.erase(0, need);
    }
  }

  void serve() {
    std::vector<pollfd> fds;
    char chunk[65536];
    for (;;) {
      fds.assign({{wake[0], POLLIN, 0}, {listener, POLLIN, 0}});
      for (const auto& [fd, bytes] : input) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds[0].revents != 0) return;  // shutdown
      if (fds[1].revents & POLLIN) {
        const int client = ::accept(listener, nullptr, nullptr);
        if (client >= 0) {
          const int one = 1;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          input[client];
        }
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0 || input.count(fds[i].fd) == 0) continue;  // dropped while answering
        const ssize_t got = ::recv(fds[i].fd, chunk, sizeof chunk, 0);
        if (got <= 0) {
          drop(fds[i].fd);
          continue;
        }
        input[fds[i].fd].append(chunk, static_cast<std::size_t>(got));
        if (!handle(fds[i].fd)) drop(fds[i].fd);
      }
    }
  }
};

TcpStoreServer::TcpStoreServer(int port) : impl_(std::make_unique<Impl>()) {
  if (port < 0 || port > 65535) throw InvalidArgument("tcp store: port " + std::to_string(port) + " is outside 0..65535");
  impl_->listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (impl_->listener < 0) throw Error("tcp store: socket: " + errno_text());
  const int one = 1;
  ::setsockopt(impl_->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(impl_->listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(impl_->listener, 128) != 0) {
    const std::string why = errno_text();
    ::close(impl_->listener);
    throw Error("tcp store: cannot listen on port " + std::to_string(port) + ": " + why);
  }
  socklen_t length = sizeof address;
  ::getsockname(impl_->listener, reinterpret_cast<sockaddr*>(&address), &length);
  impl_->port = ntohs(address.sin_port);
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) {
    ::close(impl_->listener);
    throw Error("tcp store: pipe: " + errno_text());
  }
  impl_->thread = std::thread([impl = impl_.get()] { impl->serve(); });
}

TcpStoreServer::~TcpStoreServer() {
  const char stop = 1;
  (void)!::write(impl_->wake[1], &stop, 1);
  impl_->thread.join();
  for (const auto& [fd, bytes] : impl_->input) ::close(fd);
  ::close(impl_->listener);
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

int TcpStoreServer::port() const noexcept { return impl_->port; }

// ---- client -----------------------------------------------------------------------------------

TcpStore::TcpStore(std::string host, int port, Milliseconds timeout) : host_(std::move(host)), port_(port) {
  connect(timeout);
}

TcpStore::~TcpStore() {
  if (socket_ >= 0) ::close(socket_);
}

void TcpStore::connect(Milliseconds timeout) {
  if (socket_ >= 0) return;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int code = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found); code != 0)
    throw InvalidArgument("tcp store: cannot resolve " + host_ + ": " + ::gai_strerror(code));
  const auto deadline = Clock::now() + timeout;
  std::string why;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
    const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
    if (fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      socket_ = fd;
      ::freeaddrinfo(found);
      return;
    }
    why = errno_text();
    if (fd >= 0) ::close(fd);
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(pause);
  }
  ::freeaddrinfo(found);
  throw TimeoutError("tcp store: no server at " + host_ + ":" + std::to_string(port_) + " within " +
                     std::to_string(timeout.count()) + " ms (" + why + ")");
}

void TcpStore::set(const std::string& key, std::string_view value) {
  connect(Milliseconds(0));
  const std::string bytes = request('S', key, value);
  if (!write_all(socket_, bytes.data(), bytes.size()))
    throw Error("tcp store " + host_ + ":" + std::to_string(port_) + ": the server is gone: " + errno_text());
}

void TcpStore::erase(const std::string& key) {
  connect(Milliseconds(0));
  const std::string bytes = request('E', key);
  if (!write_all(socket_, bytes.data(), bytes.size()))
    throw Error("tcp store " + host_ + ":" + std::to_string(port_) + ": the server is gone: " + errno_text());
}

std::string TcpStore::get(const std::string& key, Milliseconds timeout) {
  connect(Milliseconds(0));
  const std::string bytes = request('G', key);
  if (!write_all(socket_, bytes.data(), bytes.size()))
    throw Error("tcp store " + host_ + ":" + std::to_string(port_) + ": the server is gone: " + errno_text());
  const auto deadline = Clock::now() + timeout;
  std::string answer;
  std::uint64_t size = 0;
  bool have_size = false;
  char chunk[65536];
  for (;;) {
    if (!have_size && answer.size() >= 8) {
      std::memcpy(&size, answer.data(), 8);
      if (size > kMaxValue) throw Error("tcp store: the server answered a value of " + std::to_string(size) + " bytes");
      have_size = true;
    }
    if (have_size && answer.size() >= 8 + size) return answer.substr(8, size);
    const auto left = std::chrono::duration_cast<Milliseconds>(deadline - Clock::now()).count();
    pollfd fd{socket_, POLLIN, 0};
    if (left <= 0 || ::poll(&fd, 1, static_cast<int>(left)) == 0) {
      // The answer may still come: this connection is out of step, so start a fresh one.
      ::close(socket_);
      socket_ = -1;
      throw TimeoutError("tcp store " + host_ + ":" + std::to_string(port_) + ": key '" + key + "' was not set within " +
                         std::to_string(timeout.count()) + " ms");
    }
    const ssize_t got = ::recv(socket_, chunk, sizeof chunk, 0);
    if (got <= 0) {
      ::close(socket_);
      socket_ = -1;
      throw Error("tcp store " + host_ + ":" + std::to_string(port_) + ": the server closed the connection");
    }
    answer.append(chunk, static_cast<std::size_t>(got));
  }
}

}  // namespace meshreduce
