//! The real Linux backend (filled in by the real-backend work).
