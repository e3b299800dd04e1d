; Amigo tag query: Rust. @impl is a scope only (not a definition).
(function_item name: (identifier) @name) @function
(function_signature_item name: (identifier) @name) @function
(struct_item name: (type_identifier) @name) @class
(union_item name: (type_identifier) @name) @class
(enum_item name: (type_identifier) @name) @enum
(trait_item name: (type_identifier) @name) @interface
(type_item name: (type_identifier) @name) @type
(const_item name: (identifier) @name) @constant
(static_item name: (identifier) @name) @constant
(macro_definition name: (identifier) @name) @function
(mod_item name: (identifier) @name) @module
(field_declaration name: (field_identifier) @name) @field
(impl_item type: (_) @name) @impl
(use_declaration) @import
(extern_crate_declaration) @import
(identifier) @ref
(type_identifier) @ref
(field_identifier) @ref
(field_expression field: (field_identifier) @weak)
(let_declaration pattern: (identifier) @local)
(parameter pattern: (identifier) @local)
