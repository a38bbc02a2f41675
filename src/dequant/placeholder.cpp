// placeholder so the dequant library exists before its first source
namespace varlearn {}
