// Compiles chime's shared precompiled header (cmake/ChimePch.cmake); it has no code of its own.
