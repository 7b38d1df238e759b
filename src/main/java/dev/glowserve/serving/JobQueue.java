package dev.glowserve.serving;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A model's waiting jobs, one first-in-first-out line per priority level, level 1 served first. Not thread-safe: the
 * scheduler's lock guards it.
 */
final class JobQueue implements Iterable<BatchJob<?, ?>> {

    private final ArrayDeque<BatchJob<?, ?>>[] levels;
    private int size;

    @SuppressWarnings("unchecked")
    JobQueue(int levels) {
        this.levels = new ArrayDeque[levels];
        for (int i = 0; i < levels; i++) {
            this.levels[i] = new ArrayDeque<>();
        }
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Behind the jobs of its level. */
    void add(BatchJob<?, ?> job) {
        levels[job.priority - 1].addLast(job);
        size++;
    }

    /** The oldest job of the highest level that has one, or null. */
    BatchJob<?, ?> poll() {
        for (ArrayDeque<BatchJob<?, ?>> level : levels) {
            BatchJob<?, ?> j = level.pollFirst();
            if (j != null) {
                size--;
                return j;
            }
        }
        return null;
    }

    boolean remove(BatchJob<?, ?> job) {
        boolean removed = levels[job.priority - 1].remove(job);
        if (removed) {
            size--;
        }
        return removed;
    }

    /** Highest level first, oldest first within it; its {@code remove} takes the job out of the queue. */
    @Override
    public Iterator<BatchJob<?, ?>> iterator() {
        return new Iterator<>() {
            private int level;
            private Iterator<BatchJob<?, ?>> in = levels[0].iterator();

            @Override
            public boolean hasNext() {
                while (!in.hasNext() && level + 1 < levels.length) {
                    in = levels[++level].iterator();
                }
                return in.hasNext();
            }

            @Override
            public BatchJob<?, ?> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return in.next();
            }

            @Override
            public void remove() {
                in.remove();
                size--;
            }
        };
    }
}
