# Libraries of the Firehose delivery path (included by api/CMakeLists.txt): zlib (GZIP, ZIP),
# snappy (Snappy, HADOOP_SNAPPY), libcurl (HTTP endpoints, S3-compatible endpoints), libjq
# (dynamic partitioning queries; Debian ships no .pc file for it).
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
find_library(SNAPPY_LIB snappy REQUIRED)
target_link_libraries(sl_api PUBLIC PkgConfig::ZLIB PkgConfig::CURL ${SNAPPY_LIB} Threads::Threads)
target_link_libraries(sl_api PUBLIC jq)
