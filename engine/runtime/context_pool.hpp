#pragma once
// Run contexts for concurrent calls of one Executable::run. A context is what
// a run writes — the activation arena, kernel scratch, worker threads, node
// times — while what it reads (packed weights, the plan, the bound steps) is
// compiled once and shared. A call leases an idle context; when every context
// is busy it makes another, up to `max`, beyond which callers wait: more
// simultaneous runs than cores only adds memory, never speed.
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace kiln {

template <class Context>
class ContextPool {
 public:
  using Factory = std::function<std::unique_ptr<Context>()>;

  // Makes the first context now, so that a session's memory is allocated when
  // it is created and its first run allocates nothing.
  ContextPool(Factory make, size_t max) : make_(std::move(make)), max_(max < 1 ? 1 : max) {
    all_.push_back(make_());
    idle_.reserve(max_);
    idle_.push_back(all_.back().get());
  }

  class Lease {
   public:
    Lease(ContextPool& pool, Context* c) : pool_(&pool), c_(c) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->give_back(c_); }
    Context& operator*() const { return *c_; }
    Context* operator->() const { return c_; }

   private:
    ContextPool* pool_;
    Context* c_;
  };

  Lease acquire() {
    std::unique_lock lock(m_);
    for (;;) {
      if (!idle_.empty()) {
        Context* c = idle_.back();
        idle_.pop_back();
        return Lease(*this, c);
      }
      if (all_.size() + making_ < max_) {
        // Made outside the lock: allocating an arena and starting threads is
        // slow, and other callers may meanwhile return theirs.
        ++making_;
        lock.unlock();
        std::unique_ptr<Context> fresh;
        try {
          fresh = make_();
        } catch (...) {
          lock.lock();
          --making_;
          throw;
        }
        lock.lock();
        --making_;
        all_.push_back(std::move(fresh));
        return Lease(*this, all_.back().get());
      }
      cv_.wait(lock);
    }
  }

  // Contexts made so far (at least one).
  size_t size() const {
    std::lock_guard lock(m_);
    return all_.size();
  }

 private:
  void give_back(Context* c) {
    {
      std::lock_guard lock(m_);
      idle_.push_back(c);
    }
    cv_.notify_one();
  }

  Factory make_;
  size_t max_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Context>> all_;
  std::vector<Context*> idle_;
  size_t making_ = 0;
};

// The node times of the run that finished last, handed from the running
// contexts to profile() readers on other threads.
class LastRunTimes {
 public:
  void resize(size_t nodes) {
    std::lock_guard lock(m_);
    times_.assign(nodes, 0.0);
  }
  void store(const std::vector<double>& times) {
    std::lock_guard lock(m_);
    times_.assign(times.begin(), times.end());  // same size: no allocation
  }
  std::vector<double> load() const {
    std::lock_guard lock(m_);
    return times_;
  }

 private:
  mutable std::mutex m_;
  std::vector<double> times_;
};

}  // namespace kiln
