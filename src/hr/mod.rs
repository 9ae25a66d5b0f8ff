//! Reading HR. (Being written: see the HR helper's contract.)
