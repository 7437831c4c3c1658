// STNPipeline: see Package.swift for this module's place.
