#pragma once
// Counts calls of the global operator new (every form). Linking
// alloc_counter.cpp into a test binary replaces the global operator new and
// delete with counting, malloc-based versions; the Kiln library is linked
// statically, so its allocations are counted too. Keep such a binary apart
// from others (the replacement is process-wide).
namespace kiln::test {

// Allocations through operator new since the process started (all threads).
long allocation_count();

}  // namespace kiln::test
