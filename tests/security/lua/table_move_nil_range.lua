-- expect: exit=1 stderr=more than 16777216 elements
-- Moving nils allocates nothing: without a cap this is a 2^62-step C loop.
return { run = function() table.move({}, 1, 1 << 62, 1, {}) end }
