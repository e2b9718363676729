// cxx_pipeline [ITEMS] [WORK] - a three-stage pipeline as C++ programs write
// it (std::thread, std::mutex, std::condition_variable): a reader makes
// ITEMS blocks (default 200000), a hasher hashes each WORK times (default
// 8), a writer folds the hashes; bounded queues of 16 between the stages.
// Each block costs a few microseconds of work, and the queues fill and
// empty all the time: three threads on the machine's CPUs, blocking and
// waking each other tens of thousands of times a second.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

namespace {

struct Block {
    uint64_t words[32];
};

class Queue {
public:
    void put(const Block &b)
    {
        std::unique_lock<std::mutex> lock(m_);
        not_full_.wait(lock, [this] { return q_.size() < capacity; });
        q_.push_back(b);
        lock.unlock();
        not_empty_.notify_one();
    }
    bool get(Block &b)
    {
        std::unique_lock<std::mutex> lock(m_);
        not_empty_.wait(lock, [this] { return !q_.empty() || closed_; });
        if (q_.empty())
            return false;
        b = q_.front();
        q_.pop_front();
        lock.unlock();
        not_full_.notify_one();
        return true;
    }
    void close()
    {
        std::lock_guard<std::mutex> lock(m_);
        closed_ = true;
        not_empty_.notify_all();
    }

private:
    static const size_t capacity = 16;
    std::mutex m_;
    std::condition_variable not_empty_, not_full_;
    std::deque<Block> q_;
    bool closed_ = false;
};

uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

} // namespace

int main(int argc, char **argv)
{
    long items = argc > 1 ? std::atol(argv[1]) : 200000;
    int work = argc > 2 ? std::atoi(argv[2]) : 8;
    Queue raw, hashed;
    uint64_t total = 0;
    std::thread hasher([&] {
        Block b;
        while (raw.get(b)) {
            uint64_t h = 0xcbf29ce484222325ull;
            for (int r = 0; r < work; r++)
                for (uint64_t w : b.words)
                    h = mix(h, w + r);
            b.words[0] = h;
            hashed.put(b);
        }
        hashed.close();
    });
    std::thread writer([&] {
        Block b;
        while (hashed.get(b))
            total = mix(total, b.words[0]);
    });
    uint64_t seed = 1;
    for (long i = 0; i < items; i++) {
        Block b;
        for (uint64_t &w : b.words) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            w = seed;
        }
        raw.put(b);
    }
    raw.close();
    hasher.join();
    writer.join();
    std::printf("%016llx\n", (unsigned long long)total);
    return 0;
}
