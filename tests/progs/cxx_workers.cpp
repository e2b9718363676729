// cxx_workers - C++ threads as a C++ program uses them (std::thread,
// std::mutex, std::condition_variable), built with -O2 and without frame
// pointers: its waits happen inside libstdc++'s and glibc's code, reached
// through inlined templates. A queue of numbers from main to four
// consumers:
//   consumers: consume -> condition_variable::wait
//   main:      produce -> std::this_thread::sleep_for
//              main -> std::thread::join
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

static std::mutex m;
static std::condition_variable cv;
static std::deque<int> queue;
static bool done;

__attribute__((noinline)) static void consume(long *sum)
{
    for (;;) {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [] { return !queue.empty() || done; });
        if (queue.empty())
            return;
        *sum += queue.front();
        queue.pop_front();
    }
}

__attribute__((noinline)) static void produce(int n)
{
    for (int i = 0; i < n; i++) {
        {
            std::lock_guard<std::mutex> lock(m);
            queue.push_back(i);
        }
        cv.notify_one();
        if (i % 64 == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

int main()
{
    std::vector<std::thread> threads;
    threads.reserve(4);
    long sums[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        threads.emplace_back(consume, &sums[i]);
    produce(5000);
    {
        std::lock_guard<std::mutex> lock(m);
        done = true;
    }
    cv.notify_all();
    for (auto &t : threads)
        t.join();
    std::printf("%ld\n", sums[0] + sums[1] + sums[2] + sums[3]);
    return 0;
}
