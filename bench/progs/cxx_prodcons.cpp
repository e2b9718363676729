// cxx_prodcons [ITEMS] [CONSUMERS] - a producer-consumer as C++ programs
// write it (std::thread, std::mutex, std::condition_variable): main pushes
// ITEMS numbers (default 200000) into a bounded queue of 64, CONSUMERS
// threads (default 2) take them. Both sides block on condition variables
// whenever the queue is empty or full: tens of thousands of context
// switches a second, the row of bench_real.py that switches most.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

static std::mutex m;
static std::condition_variable not_empty, not_full;
static std::deque<long> queue;
static bool done;
static const size_t capacity = 64;

static void consume(long *sum)
{
    for (;;) {
        std::unique_lock<std::mutex> lock(m);
        not_empty.wait(lock, [] { return !queue.empty() || done; });
        if (queue.empty())
            return;
        *sum += queue.front();
        queue.pop_front();
        lock.unlock();
        not_full.notify_one();
    }
}

int main(int argc, char **argv)
{
    long items = argc > 1 ? std::atol(argv[1]) : 200000;
    int consumers = argc > 2 ? std::atoi(argv[2]) : 2;
    std::vector<std::thread> threads;
    std::vector<long> sums(consumers, 0);
    for (int i = 0; i < consumers; i++)
        threads.emplace_back(consume, &sums[i]);
    for (long i = 0; i < items; i++) {
        {
            std::unique_lock<std::mutex> lock(m);
            not_full.wait(lock, [] { return queue.size() < capacity; });
            queue.push_back(i);
        }
        not_empty.notify_one();
    }
    {
        std::lock_guard<std::mutex> lock(m);
        done = true;
    }
    not_empty.notify_all();
    long total = 0;
    for (int i = 0; i < consumers; i++) {
        threads[i].join();
        total += sums[i];
    }
    return total == items * (items - 1) / 2 ? 0 : 1;
}
