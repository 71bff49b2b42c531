//! Differentiable ops on [`crate::Var`], one file per family, each giving its forward (a
//! `tensor` op) and its backward (the vector-Jacobian product, in the doc comment and code).

mod arith;
mod linalg;
mod loss;
mod reduce;
mod shape;
mod unary;
