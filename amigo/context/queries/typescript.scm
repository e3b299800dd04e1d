; Amigo tag query: TypeScript and TSX.
(class_declaration name: (type_identifier) @name) @class
(abstract_class_declaration name: (type_identifier) @name) @class
(interface_declaration name: (type_identifier) @name) @interface
(type_alias_declaration name: (type_identifier) @name) @type
(enum_declaration name: (identifier) @name) @enum
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(function_signature name: (identifier) @name) @function
(method_definition name: (property_identifier) @name) @method
(method_signature name: (property_identifier) @name) @method
(abstract_method_signature name: (property_identifier) @name) @method
(public_field_definition name: (property_identifier) @name) @field
(property_signature name: (property_identifier) @name) @field
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)]) @function
(program (lexical_declaration (variable_declarator name: (identifier) @name)) @constant)
(program (export_statement
  declaration: (lexical_declaration (variable_declarator name: (identifier) @name)) @constant))
(import_statement) @import
(identifier) @ref
(type_identifier) @ref
(property_identifier) @ref
(shorthand_property_identifier) @ref
(member_expression property: (property_identifier) @weak)
(pair key: (property_identifier) @weak)
(variable_declarator name: (identifier) @local)
(required_parameter pattern: (identifier) @local)
(optional_parameter pattern: (identifier) @local)
